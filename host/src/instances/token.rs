//! Instance tokens: generated at creation, shown once, stored only as a hash.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A new token with 256 random bits (hex).
pub fn generate() -> String {
    crate::admin_token::generate()
}

/// The stored form of a token: hex SHA-256. Tokens are random and long, so a
/// plain hash is enough; no salt or slow hash is needed.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A token's SHA-256, the binary form of [`hash`]: what the in-memory lookup
/// by token is keyed on (no hex encoding on the request path).
pub fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The binary form of a stored [`hash`]; `None` if it is not 64 hex digits.
pub fn parse_hash(stored_hash: &str) -> Option<[u8; 32]> {
    let mut digest = [0u8; 32];
    hex::decode_to_slice(stored_hash, &mut digest).ok()?;
    Some(digest)
}

/// Whether two digests are equal, in constant time.
pub fn digest_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.ct_eq(b).into()
}

/// Whether `presented` hashes to `stored_hash`, in constant time.
pub fn matches(presented: &str, stored_hash: &str) -> bool {
    let presented = hash(presented);
    presented.as_bytes().ct_eq(stored_hash.as_bytes()).into()
}

/// Whether two secrets are equal, in constant time (for the admin token).
/// Both are hashed first so the comparison does not leak their lengths.
pub fn secret_eq(a: &str, b: &str) -> bool {
    Sha256::digest(a.as_bytes()).ct_eq(&Sha256::digest(b.as_bytes())).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_matches_its_hash_only() {
        let token = generate();
        let stored = hash(&token);
        assert_ne!(stored, token);
        assert!(matches(&token, &stored));
        assert!(!matches(&generate(), &stored));
        assert_eq!(parse_hash(&stored), Some(digest(&token)));
        assert_eq!(parse_hash("not hex"), None);
        assert!(digest_eq(&digest(&token), &digest(&token)));
        assert!(!digest_eq(&digest(&token), &digest(&generate())));
        assert!(secret_eq("abc", "abc"));
        assert!(!secret_eq("abc", "abd"));
    }
}
