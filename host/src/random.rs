//! Random identifiers and secrets: `n` bytes from the thread-local CSPRNG, hex-encoded.

use rand::RngCore;

/// `bytes` random bytes as lowercase hex (`2 × bytes` characters).
pub fn hex(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buffer);
    hex::encode(buffer)
}
