//! Allow-list entries, as `capabilities.http` and `capabilities.webhook.hosts` list them:
//! `[scheme://]host[:port]`.
//!
//! An entry names a host exactly (`api.example.com`) or its subdomains (`*.example.com`), and
//! with it one scheme and one port: the scheme is `https` unless the entry says `http://`, and
//! the port is the scheme's own (443, 80) unless the entry gives one. So `api.example.com`
//! allows `https://api.example.com/...` and nothing else on that host: not plain HTTP, and not
//! another port of it, where another service may listen.

/// One allow-list entry, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowEntry {
    /// `http` or `https`.
    scheme: &'static str,
    /// Lowercase; `*.domain` for the subdomains of `domain`.
    host: String,
    port: u16,
}

impl AllowEntry {
    /// Parses `entry`; the error says what is wrong with it.
    pub fn parse(entry: &str) -> Result<AllowEntry, String> {
        let bad = |why: &str| Err(format!("{entry:?} is not an allow-list entry ({why})"));
        let (scheme, rest) = match entry.split_once("://") {
            Some((scheme, rest)) => match scheme.to_ascii_lowercase().as_str() {
                "https" => ("https", rest),
                "http" => ("http", rest),
                _ => return bad("the scheme is http:// or https://"),
            },
            None => ("https", entry),
        };
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, port)) => match port.parse::<u16>() {
                Ok(port) if port > 0 => (host, port),
                _ => return bad("the port is a number from 1 to 65535"),
            },
            None => (rest, default_port(scheme)),
        };
        let bare = host.strip_prefix("*.").unwrap_or(host);
        let host_ok = !bare.is_empty()
            && !bare.starts_with('.')
            && bare
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
        if !host_ok {
            return bad("a host name, `*.` allowed in front; no path, user or query");
        }
        Ok(AllowEntry {
            scheme,
            host: host.to_ascii_lowercase(),
            port,
        })
    }

    /// Whether the host name `host` matches this entry, whatever the scheme and port.
    pub fn host_matches(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        match self.host.strip_prefix("*.") {
            Some(domain) => host
                .strip_suffix(domain)
                .is_some_and(|sub| sub.ends_with('.') && sub.len() > 1),
            None => host == self.host,
        }
    }

    /// Whether a URL with this scheme, host and port (`None`: the scheme's own) is allowed.
    pub fn matches(&self, scheme: &str, host: &str, port: Option<u16>) -> bool {
        let scheme = scheme.to_ascii_lowercase();
        let Some(port) = port.or_else(|| known_port(&scheme)) else {
            return false;
        };
        scheme == self.scheme && port == self.port && self.host_matches(host)
    }
}

fn default_port(scheme: &str) -> u16 {
    known_port(scheme).unwrap_or(443)
}

fn known_port(scheme: &str) -> Option<u16> {
    match scheme {
        "https" => Some(443),
        "http" => Some(80),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_allows_one_scheme_and_one_port() {
        let bare = AllowEntry::parse("API.example.com").unwrap();
        assert!(bare.matches("https", "api.example.com", None));
        assert!(bare.matches("https", "api.example.com", Some(443)));
        assert!(!bare.matches("http", "api.example.com", None));
        assert!(!bare.matches("https", "api.example.com", Some(8443)));
        assert!(!bare.matches("ftp", "api.example.com", None));

        let plain = AllowEntry::parse("http://127.0.0.1:8080").unwrap();
        assert!(plain.matches("http", "127.0.0.1", Some(8080)));
        assert!(!plain.matches("http", "127.0.0.1", None));
        assert!(!plain.matches("https", "127.0.0.1", Some(8080)));
        assert!(!plain.matches("http", "127.0.0.1", Some(8081)));

        let wild = AllowEntry::parse("*.example.org:8443").unwrap();
        assert!(wild.matches("https", "a.b.example.org", Some(8443)));
        assert!(!wild.matches("https", "a.example.org", None));
        assert!(!wild.matches("https", "example.org", Some(8443)));
    }

    #[test]
    fn malformed_entries_are_refused() {
        for entry in [
            "",
            "*.",
            "ftp://a.com",
            "https://a.com/path",
            "a.com:0",
            "a.com:99999",
            "a.com:",
            "user@a.com",
            "a.com?x",
            "[::1]:80",
        ] {
            assert!(AllowEntry::parse(entry).is_err(), "{entry:?}");
        }
    }
}
