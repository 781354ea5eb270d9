//! The outbound-URL policy (docs/API.md, "Outbound-URL policy"): which URLs and
//! addresses the server may reach on a user's behalf.
//!
//! A URL must be `http` or `https` and carry no credentials: a
//! `user:password@` part would be sent as Basic auth to whatever host the URL
//! (or a redirect) names, and `https://trusted.example@evil.example/` reads
//! like the wrong host, so such URLs are refused rather than stripped.
//! Unless private URLs are allowed, an address must be publicly routable:
//! loopback, private, link-local, shared (CGNAT), multicast, reserved and
//! special-purpose ranges are refused, in IPv4 and IPv6, including IPv6 forms
//! that embed a refused IPv4 address (mapped, compatible, NAT64, 6to4,
//! Teredo). Allowing private URLs lifts the address checks only; the scheme
//! and credential checks always apply.
//!
//! Only IP-literal hosts can be checked from the URL; names are checked when
//! they resolve (see [`super::resolver`]), so a name that points at a private
//! address, now or after a DNS change, is refused at connect time.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use reqwest::Url;

/// Why a URL or an address was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("the scheme {0:?} is not allowed (only http and https)")]
    Scheme(String),
    #[error("URLs with credentials (user:password@) are not allowed")]
    Credentials,
    #[error("the URL has no host")]
    NoHost,
    #[error("the address {addr} is not allowed ({range})")]
    Address { addr: IpAddr, range: &'static str },
    #[error("{host} resolves only to addresses that are not allowed ({addr}: {range})")]
    Resolved {
        host: String,
        addr: IpAddr,
        range: &'static str,
    },
    #[error("the host {host:?} is not in the allow-list")]
    NotListed { host: String },
}

/// What outbound requests may reach.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UrlPolicy {
    /// Allow loopback, private and other non-public addresses (tests, LANs).
    pub allow_private: bool,
}

impl UrlPolicy {
    /// Checks a URL before it is requested, and every redirect target.
    pub fn check_url(&self, url: &Url) -> Result<(), Refused> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Refused::Scheme(url.scheme().to_owned()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Refused::Credentials);
        }
        let host = url.host_str().filter(|h| !h.is_empty()).ok_or(Refused::NoHost)?;
        // The URL parser has already turned every IPv4 spelling (`2130706433`,
        // `0x7f.1`) into dotted form; IPv6 literals keep their brackets.
        let literal = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
        match literal.parse::<IpAddr>() {
            Ok(ip) => self.check_ip(ip),
            // A name: checked when it resolves.
            Err(_) => Ok(()),
        }
    }

    /// Checks one address a request would connect to.
    pub fn check_ip(&self, addr: IpAddr) -> Result<(), Refused> {
        if self.allow_private {
            return Ok(());
        }
        match refused_range(addr) {
            Some(range) => Err(Refused::Address { addr, range }),
            None => Ok(()),
        }
    }
}

/// The non-public range `addr` falls in, or `None` for a public address.
pub fn refused_range(addr: IpAddr) -> Option<&'static str> {
    match addr {
        IpAddr::V4(v4) => v4_range(v4),
        IpAddr::V6(v6) => v6_range(v6),
    }
}

fn v4_range(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    let range = match (a, b, c) {
        (0, _, _) => "\"this network\" 0.0.0.0/8",
        (10, _, _) => "private 10.0.0.0/8",
        (100, 64..=127, _) => "shared address space 100.64.0.0/10",
        (127, _, _) => "loopback 127.0.0.0/8",
        (169, 254, _) => "link-local 169.254.0.0/16",
        (172, 16..=31, _) => "private 172.16.0.0/12",
        (192, 0, 0) => "IETF protocol assignments 192.0.0.0/24",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "documentation",
        (192, 168, _) => "private 192.168.0.0/16",
        (198, 18..=19, _) => "benchmarking 198.18.0.0/15",
        (224..=239, _, _) => "multicast 224.0.0.0/4",
        _ if ip == Ipv4Addr::BROADCAST => "broadcast",
        (240..=255, _, _) => "reserved 240.0.0.0/4",
        _ => return None,
    };
    Some(range)
}

fn v6_range(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from(((hi as u32) << 16) | lo as u32);
    if ip.is_unspecified() {
        return Some("unspecified ::");
    }
    if ip.is_loopback() {
        return Some("loopback ::1");
    }
    // IPv4-mapped ::ffff:a.b.c.d and the deprecated IPv4-compatible ::a.b.c.d
    // reach the embedded IPv4 address.
    if s[..5] == [0; 5] && (s[5] == 0xffff || s[5] == 0) {
        return v4_range(embedded(s[6], s[7]));
    }
    // IPv4-translated ::ffff:0:a.b.c.d (SIIT, RFC 2765) reaches the embedded
    // address through a translator just the same.
    if s[..4] == [0; 4] && s[4] == 0xffff && s[5] == 0 {
        return v4_range(embedded(s[6], s[7]));
    }
    // NAT64 well-known prefix 64:ff9b::/96 translates to the embedded address.
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return v4_range(embedded(s[6], s[7]));
    }
    let range = match s[0] {
        0x64 if s[1] == 0xff9b && s[2] == 1 => "local-use NAT64 64:ff9b:1::/48",
        0x100 if s[1..4] == [0; 3] => "discard-only 100::/64",
        // 6to4 embeds the IPv4 address after the prefix.
        0x2002 => return v4_range(embedded(s[1], s[2])),
        // Teredo embeds the client's IPv4 address, inverted, at the end.
        0x2001 if s[1] == 0 => return v4_range(embedded(!s[6], !s[7])),
        0x2001 if s[1] == 0xdb8 => "documentation 2001:db8::/32",
        x if x & 0xfe00 == 0xfc00 => "unique local fc00::/7",
        x if x & 0xffc0 == 0xfe80 => "link-local fe80::/10",
        x if x & 0xffc0 == 0xfec0 => "site-local fec0::/10",
        x if x & 0xff00 == 0xff00 => "multicast ff00::/8",
        _ => return None,
    };
    Some(range)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRICT: UrlPolicy = UrlPolicy { allow_private: false };
    const LAX: UrlPolicy = UrlPolicy { allow_private: true };

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn refused_ipv4_ranges() {
        for addr in [
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "10.255.255.255",
            "100.64.0.1",
            "100.127.255.254",
            "127.0.0.1",
            "127.1.2.3",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
        ] {
            let ip: IpAddr = addr.parse().unwrap();
            assert!(refused_range(ip).is_some(), "{addr} must be refused");
            assert!(matches!(STRICT.check_ip(ip), Err(Refused::Address { .. })), "{addr}");
            assert_eq!(LAX.check_ip(ip), Ok(()), "{addr} is allowed with allow_private");
        }
    }

    #[test]
    fn public_ipv4_is_allowed_including_range_neighbours() {
        for addr in [
            "1.1.1.1",
            "8.8.8.8",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "126.255.255.255",
            "128.0.0.0",
            "169.253.255.255",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.1",
            "192.167.255.255",
            "192.169.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
        ] {
            let ip: IpAddr = addr.parse().unwrap();
            assert_eq!(refused_range(ip), None, "{addr} is public");
        }
    }

    #[test]
    fn refused_ipv6_ranges_and_embedded_ipv4() {
        for addr in [
            "::",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "ff0e::1",
            "2001:db8::1",
            "100::1",
            "64:ff9b:1::1",
            // Embedded refused IPv4 addresses.
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "::192.168.0.1",
            "::ffff:0:127.0.0.1",
            "::ffff:0:10.0.0.1",
            "::ffff:0:169.254.169.254",
            "64:ff9b::127.0.0.1",
            "64:ff9b::a00:1",
            "64:ff9b::169.254.169.254",
            "2002:7f00:1::1",
            "2002:c0a8:101::",
            "2001:0:4136:e378:8000:63bf:80ff:fffe", // Teredo client 127.0.0.1
        ] {
            let ip: IpAddr = addr.parse().unwrap();
            assert!(refused_range(ip).is_some(), "{addr} must be refused");
            assert!(STRICT.check_ip(ip).is_err(), "{addr}");
        }
        for addr in [
            "2606:4700:4700::1111",
            "2a00:1450:4001:80b::200e",
            "::ffff:8.8.8.8",
            "::ffff:0:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
            "fbff::1",
            "fe00::1",
        ] {
            let ip: IpAddr = addr.parse().unwrap();
            assert_eq!(refused_range(ip), None, "{addr} is public");
        }
    }

    #[test]
    fn only_http_and_https_without_credentials() {
        assert_eq!(STRICT.check_url(&url("https://example.com/a.jpg?sig=1")), Ok(()));
        assert_eq!(STRICT.check_url(&url("http://example.com:8080/a")), Ok(()));
        assert_eq!(STRICT.check_url(&url("HTTPS://EXAMPLE.COM/")), Ok(()));
        for (raw, scheme) in [
            ("ftp://example.com/a", "ftp"),
            ("file:///etc/passwd", "file"),
            ("gopher://example.com/", "gopher"),
            ("data:text/plain,hi", "data"),
            ("javascript:alert(1)", "javascript"),
        ] {
            assert_eq!(
                STRICT.check_url(&url(raw)),
                Err(Refused::Scheme(scheme.into())),
                "{raw}"
            );
            assert_eq!(
                LAX.check_url(&url(raw)),
                Err(Refused::Scheme(scheme.into())),
                "{raw} even when lax"
            );
        }
        for raw in [
            "https://user@example.com/",
            "https://user:pw@example.com/",
            "https://:pw@example.com/",
        ] {
            assert_eq!(STRICT.check_url(&url(raw)), Err(Refused::Credentials), "{raw}");
            assert_eq!(LAX.check_url(&url(raw)), Err(Refused::Credentials), "{raw}");
        }
    }

    #[test]
    fn ip_literal_hosts_are_checked_in_every_spelling() {
        for raw in [
            "http://127.0.0.1/",
            "http://127.0.0.1:2121/api",
            "http://localhost.localdomain@127.0.0.1/",
            "http://2130706433/", // 127.0.0.1 as one number
            "http://0x7f.0.0.1/", // hexadecimal
            "http://0177.0.0.1/", // octal
            "http://127.1/",      // short form
            "http://0/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:7f00:1]/",
            "http://[64:ff9b::7f00:1]/",
            "http://[fe80::1]/",
            "http://169.254.169.254/latest/meta-data/",
            "http://10.0.0.1/",
        ] {
            assert!(STRICT.check_url(&url(raw)).is_err(), "{raw} must be refused");
        }
        assert_eq!(LAX.check_url(&url("http://127.0.0.1:9/x")), Ok(()));
        assert_eq!(LAX.check_url(&url("http://[::1]/x")), Ok(()));
        assert_eq!(STRICT.check_url(&url("http://93.184.215.14/")), Ok(()));
        assert_eq!(STRICT.check_url(&url("http://[2606:4700::1]/")), Ok(()));
        // Names are left to the resolver.
        assert_eq!(STRICT.check_url(&url("http://localhost/")), Ok(()));
    }

    #[test]
    fn refusals_say_why() {
        let refused = STRICT.check_url(&url("http://[::ffff:127.0.0.1]/")).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "the address ::ffff:127.0.0.1 is not allowed (loopback 127.0.0.0/8)"
        );
    }
}
