//! Webhook signatures: HMAC-SHA256 of the raw body, keyed with the
//! receiver's secret as UTF-8 bytes (both source documents, docs/seeds/, verify it that
//! way), in the header each format's receivers expect; plus a signature that
//! also covers a timestamp and the event id, for receivers that guard
//! against replays.

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

/// The header of the replay-resistant signature, sent beside the format's own.
pub const TIMESTAMPED_HEADER: &str = "X-Wasap-Signature";

/// The value of [`TIMESTAMPED_HEADER`]: `t=<unix seconds>,v1=<hex>`, where
/// the HMAC-SHA256 covers `<t>.<event id>.<body>`. A receiver that checks it
/// and refuses old timestamps and seen event ids is safe from replays, which
/// the formats' body-only signatures cannot give (docs/API.md).
pub fn timestamped_signature(secret: &str, timestamp_secs: i64, event_id: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts any key length");
    mac.update(format!("{timestamp_secs}.{event_id}.").as_bytes());
    mac.update(body);
    let digest: [u8; 32] = mac.finalize().into_bytes().into();
    format!("t={timestamp_secs},v1={}", hex::encode(digest))
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

    #[test]
    fn the_timestamped_signature_covers_time_event_and_body() {
        let signed = timestamped_signature("Jefe", 1_700_000_000, "ev-1", b"{}");
        // It is the body signature of the joined string, so receivers can
        // check it with any HMAC library.
        let joined = hex::encode(hmac_sha256(b"Jefe", b"1700000000.ev-1.{}"));
        assert_eq!(signed, format!("t=1700000000,v1={joined}"));
        assert_ne!(signed, timestamped_signature("Jefe", 1_700_000_001, "ev-1", b"{}"));
        assert_ne!(
            timestamped_signature("Jefe", 1, "ev-1", b"{}"),
            timestamped_signature("Jefe", 1, "ev-2", b"{}")
        );
    }
}
