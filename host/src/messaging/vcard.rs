//! Contact cards: the vCard WhatsApp shows for a name and a phone number, and
//! the checks a caller's own vCard must pass.

/// A vCard, at most (WhatsApp's own cards are a few hundred bytes; a photo
/// inlined in one can take tens of KiB).
pub const MAX_VCARD_BYTES: usize = 65_536;

/// Escapes a vCard 3.0 text value (RFC 2426 §5: backslash, comma, semicolon).
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '\\' | ',' | ';') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The card for `name` at `phone` (international digits): WhatsApp's
/// `waid` parameter makes the number tappable as a WhatsApp chat.
pub fn for_phone(name: &str, phone: &str) -> String {
    format!(
        "BEGIN:VCARD\nVERSION:3.0\nFN:{}\nTEL;type=CELL;waid={phone}:+{phone}\nEND:VCARD",
        escape(name)
    )
}

/// Whether `vcard` has the shape of one vCard: `BEGIN:VCARD` first,
/// `END:VCARD` last, within [`MAX_VCARD_BYTES`].
pub fn is_well_formed(vcard: &str) -> bool {
    let trimmed = vcard.trim();
    vcard.len() <= MAX_VCARD_BYTES
        && trimmed
            .get(..11)
            .is_some_and(|head| head.eq_ignore_ascii_case("BEGIN:VCARD"))
        && trimmed
            .len()
            .checked_sub(9)
            .and_then(|at| trimmed.get(at..))
            .is_some_and(|tail| tail.eq_ignore_ascii_case("END:VCARD"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_phone_card_names_the_number_and_escapes_the_name() {
        let card = for_phone("Doe, John; Jr.", "6281234567890");
        assert!(card.contains("FN:Doe\\, John\\; Jr.\n"), "{card}");
        assert!(
            card.contains("TEL;type=CELL;waid=6281234567890:+6281234567890"),
            "{card}"
        );
        assert!(is_well_formed(&card));
    }

    #[test]
    fn only_whole_vcards_pass() {
        assert!(is_well_formed("begin:vcard\r\nFN:x\r\nend:VCARD\r\n"));
        for bad in ["", "BEGIN:VCARD", "FN:x", "BEGIN:VCARD\nFN:x", "END:VCARD BEGIN:VCARD"] {
            assert!(!is_well_formed(bad), "{bad}");
        }
        let huge = format!("BEGIN:VCARD\n{}\nEND:VCARD", "N".repeat(MAX_VCARD_BYTES));
        assert!(!is_well_formed(&huge));
    }
}
