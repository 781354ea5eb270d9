//! The name of a fetched file: from `Content-Disposition` (RFC 6266; the
//! RFC 5987 `filename*` form wins over `filename`), else from the last
//! non-empty segment of the final URL's path.
//!
//! Names come from a remote server, so they are reduced to a plain base name:
//! no directory parts, no control characters, no leading dots, bounded length.
//! The server never writes them to disk; they are only shown to the recipient.

/// Longest name kept, in bytes.
const MAX_NAME_BYTES: usize = 200;

/// The file name a `Content-Disposition` header value gives, if any.
pub fn from_content_disposition(value: &str) -> Option<String> {
    let mut plain = None;
    let mut extended = None;
    for param in split_params(value).into_iter().skip(1) {
        let Some((key, raw)) = param.split_once('=') else {
            continue;
        };
        match key.trim().to_ascii_lowercase().as_str() {
            "filename*" => {
                // charset'language'percent-encoded; only UTF-8 and ISO-8859-1 exist in practice.
                let mut parts = raw.trim().splitn(3, '\'');
                let (charset, _, encoded) = (parts.next()?, parts.next()?, parts.next()?);
                let bytes = percent_decode(encoded);
                extended = Some(if charset.eq_ignore_ascii_case("iso-8859-1") {
                    bytes.iter().map(|&b| b as char).collect()
                } else {
                    String::from_utf8_lossy(&bytes).into_owned()
                });
            }
            "filename" => plain = Some(unquote(raw.trim())),
            _ => {}
        }
    }
    extended.or(plain).and_then(|name| sanitize(&name))
}

/// The last non-empty segment of a URL path, percent-decoded.
pub fn from_url_path(url: &reqwest::Url) -> Option<String> {
    let segment = url.path_segments()?.rfind(|s| !s.is_empty())?;
    sanitize(&String::from_utf8_lossy(&percent_decode(segment)))
}

/// A base name safe to show and to hand to WhatsApp, or `None` if nothing is left.
pub fn sanitize(name: &str) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base.chars().filter(|c| !c.is_control()).collect();
    let cleaned = cleaned.trim().trim_start_matches('.').trim();
    let mut end = cleaned.len().min(MAX_NAME_BYTES);
    while !cleaned.is_char_boundary(end) {
        end -= 1;
    }
    let name = cleaned[..end].trim_end();
    (!name.is_empty()).then(|| name.to_owned())
}

/// Splits a header value at `;`, except inside quoted strings.
fn split_params(value: &str) -> Vec<&str> {
    let mut params = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in value.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ';' if !quoted => {
                params.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    params.push(&value[start..]);
    params
}

fn unquote(raw: &str) -> String {
    let Some(inner) = raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) else {
        return raw.to_owned();
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        out.push(if c == '\\' { chars.next().unwrap_or('\\') } else { c });
    }
    out
}

fn percent_decode(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_disposition_forms() {
        let cases = [
            ("attachment; filename=\"report Q1.pdf\"", Some("report Q1.pdf")),
            ("inline; filename=plain.pdf", Some("plain.pdf")),
            ("attachment; filename=\"a;b.pdf\"; size=3", Some("a;b.pdf")),
            ("attachment; filename=\"quo\\\"te.txt\"", Some("quo\"te.txt")),
            (
                "attachment; filename=\"fallback.pdf\"; filename*=UTF-8''na%C3%AFve%20r%C3%A9sum%C3%A9.pdf",
                Some("naïve résumé.pdf"),
            ),
            ("attachment; FILENAME*=iso-8859-1'en'caf%E9.txt", Some("café.txt")),
            ("attachment; filename=\"../../etc/passwd\"", Some("passwd")),
            ("attachment; filename=\"C:\\\\Windows\\\\evil.exe\"", Some("evil.exe")),
            ("attachment; filename=\"..\"", None),
            ("attachment; filename=\"\"", None),
            ("attachment", None),
            ("inline; name=x.pdf", None),
        ];
        for (header, expected) in cases {
            assert_eq!(from_content_disposition(header).as_deref(), expected, "{header}");
        }
    }

    #[test]
    fn names_from_url_paths() {
        let name = |s: &str| from_url_path(&reqwest::Url::parse(s).unwrap());
        assert_eq!(
            name("https://cdn.example/files/report%20Q1.pdf?sig=secret").as_deref(),
            Some("report Q1.pdf")
        );
        assert_eq!(
            name("https://cdn.example/files/photo.jpg/").as_deref(),
            Some("photo.jpg")
        );
        assert_eq!(name("https://cdn.example/a/%2E%2E%2Fsecret").as_deref(), Some("secret"));
        assert_eq!(name("https://cdn.example/").as_deref(), None);
        assert_eq!(name("https://cdn.example").as_deref(), None);
    }

    #[test]
    fn sanitizing_keeps_a_bounded_base_name() {
        assert_eq!(sanitize("  .hidden\u{0}name\n.txt ").as_deref(), Some("hiddenname.txt"));
        let long = "é".repeat(150);
        let kept = sanitize(&long).unwrap();
        assert!(kept.len() <= MAX_NAME_BYTES && kept.chars().all(|c| c == 'é'));
    }
}
