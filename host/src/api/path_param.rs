//! Path parameters as clients send them: warp hands a path segment over as
//! it came, so a JID's `@` sent as `%40` or a number's `+` sent as `%2B` (as
//! URL builders do) is decoded here, once, by the router for every route's
//! parameters alike (`router.rs`).

/// `param` with its `%XX` escapes decoded (`%40` for `@`). A `%` not
/// followed by two hex digits stays as it is, and so does a segment that
/// does not decode to UTF-8 (lossily): the route's own check of the value
/// then refuses it with its usual error.
pub(super) fn decoded(param: &str) -> String {
    let bytes = param.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::decoded;

    #[test]
    fn escapes_are_decoded_once_and_stray_percents_kept() {
        assert_eq!(decoded("123-456%40g.us"), "123-456@g.us");
        assert_eq!(decoded("6281%40s.whatsapp.net"), "6281@s.whatsapp.net");
        assert_eq!(decoded("a%2540b"), "a%40b");
        assert_eq!(decoded("100%"), "100%");
        assert_eq!(decoded("%zz1"), "%zz1");
        assert_eq!(decoded("plain"), "plain");
    }
}
