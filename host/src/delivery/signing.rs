//! Webhook signatures: HMAC-SHA256 of the raw body, keyed with the
//! receiver's secret as UTF-8 bytes (both source documents, docs/seeds/, verify it that
//! way), in the header each format's receivers expect.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use wasap_events::Format;

/// The signature header for a `format` and the body signed with `secret`;
/// `None` for formats that are not signed (a plugin's own).
pub fn signature(format: &str, secret: &str, body: &[u8]) -> Option<(&'static str, String)> {
    let digest = || hex::encode(hmac_sha256(secret.as_bytes(), body));
    match format.parse::<Format>().ok()? {
        Format::Sudevwa => Some(("X-SUDEVWA-Signature", digest())),
        Format::Gowa => Some(("X-Hub-Signature-256", format!("sha256={}", digest()))),
    }
}

fn hmac_sha256(key: &[u8], body: &[u8]) -> [u8; 32] {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(body);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_match_rfc_4231_and_each_format_has_its_header() {
        // RFC 4231 test case 2.
        let expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        let body = b"what do ya want for nothing?";
        assert_eq!(
            signature(Format::Sudevwa.name(), "Jefe", body),
            Some(("X-SUDEVWA-Signature", expected.to_owned()))
        );
        assert_eq!(
            signature(Format::Gowa.name(), "Jefe", body),
            Some(("X-Hub-Signature-256", format!("sha256={expected}")))
        );
        assert_eq!(signature("my-plugin", "Jefe", body), None);
    }
}
