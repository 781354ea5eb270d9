//! The log output: tracing's fmt subscriber on stdout, filtered by
//! `--log`, with colours only for a terminal.
//!
//! Logs that go to a file, a pipe or journald must not carry ANSI escape
//! codes: they would end up as `\x1b[2m...` in every line. Colours are on
//! only when stdout is a terminal and `NO_COLOR` (<https://no-color.org>) is
//! unset or empty.

use std::io::IsTerminal;

/// Installs the subscriber for the process; `filter` is in tracing's
/// env-filter syntax (an invalid one falls back to `info`).
pub fn init(filter: &str) {
    let filter =
        tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = colours_wanted(std::io::stdout().is_terminal(), std::env::var_os("NO_COLOR"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stdout)
        .init();
}

/// Colours for a terminal, unless `NO_COLOR` is set to something.
fn colours_wanted(is_terminal: bool, no_color: Option<std::ffi::OsString>) -> bool {
    is_terminal && no_color.is_none_or(|v| v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_only_for_a_terminal_without_no_color() {
        assert!(colours_wanted(true, None));
        assert!(colours_wanted(true, Some("".into())));
        assert!(!colours_wanted(true, Some("1".into())));
        assert!(!colours_wanted(false, None));
    }
}
