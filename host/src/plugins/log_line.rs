//! What a plugin's log line becomes before it reaches the server's log: one
//! line of printable text.
//!
//! A plugin's message is untrusted text. Written as it is, a newline forges
//! log lines that seem to come from the server, and ANSI escape sequences
//! recolour, hide or rewrite what an operator sees in a terminal. Escape
//! sequences are removed whole, line breaks and tabs become spaces, and every
//! other control character (C0, DEL, C1) is dropped.

/// `message` as one printable line.
pub fn sanitize(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut chars = message.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => skip_escape(&mut chars),
            // CSI as one C1 character: parameters up to a final byte, like `ESC [`.
            '\u{9b}' => skip_csi(&mut chars),
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Skips the rest of an escape sequence whose `ESC` was just read.
fn skip_escape(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    match chars.next() {
        Some('[') => skip_csi(chars),
        // OSC, DCS, SOS, PM, APC: a string up to BEL or ST (`ESC \`).
        Some(']' | 'P' | 'X' | '^' | '_') => {
            while let Some(c) = chars.next() {
                if c == '\u{7}' || c == '\u{9c}' {
                    break;
                }
                if c == '\u{1b}' {
                    if chars.peek() == Some(&'\\') {
                        chars.next();
                    }
                    break;
                }
            }
        }
        // Intermediate bytes, then one final byte (`ESC ( B`, `ESC c`, ...).
        Some(c) if ('\u{20}'..='\u{2f}').contains(&c) => {
            for next in chars.by_ref() {
                if !('\u{20}'..='\u{2f}').contains(&next) {
                    break;
                }
            }
        }
        _ => {}
    }
}

/// Skips a control sequence's parameter and intermediate bytes and its final byte.
fn skip_csi(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    for c in chars.by_ref() {
        if ('\u{40}'..='\u{7e}').contains(&c) || !('\u{20}'..='\u{7e}').contains(&c) {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_and_control_characters_are_removed() {
        assert_eq!(sanitize("plain text, ünïcode ✓"), "plain text, ünïcode ✓");
        assert_eq!(
            sanitize("\u{1b}[31mred\u{1b}[0m and \u{1b}[1;4mbold\u{1b}[m"),
            "red and bold"
        );
        assert_eq!(sanitize("\u{1b}]0;new title\u{7}after"), "after");
        assert_eq!(sanitize("\u{1b}]8;;http://evil\u{1b}\\link\u{1b}]8;;\u{1b}\\"), "link");
        assert_eq!(sanitize("\u{1b}(Bx\u{1b}cy"), "xy");
        assert_eq!(sanitize("\u{9b}2Jcleared"), "cleared");
        assert_eq!(
            sanitize("ok\nERROR wasap: forged line\r\tend"),
            "ok ERROR wasap: forged line  end"
        );
        assert_eq!(sanitize("bell\u{7} nul\u{0} del\u{7f} c1\u{85}"), "bell nul del c1");
        // An escape cut short at the end of the message leaves nothing behind.
        assert_eq!(sanitize("tail\u{1b}["), "tail");
        assert_eq!(sanitize("tail\u{1b}"), "tail");
    }
}
