//! A file given as base64 text in a JSON body: plain base64 (standard or
//! URL-safe alphabet, padded or not, line breaks allowed, as `base64` tools
//! wrap it) or a `data:` URL (`data:image/png;base64,...`), whose type is
//! then the file's declared type.
//!
//! The decoded size is worked out from the text before anything is
//! decoded, so a file over its limit is refused without being decoded; a
//! file within it is decoded once, into a buffer of its exact size, in
//! chunks that skip the line breaks (no cleaned-up copy of the text).

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// Characters of base64 decoded at a time: a multiple of 4.
const CHUNK: usize = 4096;

const DECODE: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
const STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, DECODE);
const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, DECODE);

/// Why base64 data could not be taken.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Base64Error {
    #[error("the data is not valid base64")]
    Invalid,
    #[error("the data is empty")]
    Empty,
    #[error("the decoded file would have {size} bytes, more than the {limit} allowed")]
    TooLarge { size: u64, limit: u64 },
}

/// The text of `data` without a `data:` URL's head, and the MIME type that
/// head declares.
pub fn split_data_url(data: &str) -> Result<(&str, Option<&str>), Base64Error> {
    let Some(rest) = data.strip_prefix("data:") else {
        return Ok((data, None));
    };
    let (head, body) = rest.split_once(',').ok_or(Base64Error::Invalid)?;
    let mime = head.strip_suffix(";base64").ok_or(Base64Error::Invalid)?;
    Ok((body, Some(mime).filter(|m| !m.is_empty())))
}

/// The bytes `text` (base64) encodes, refused unseen when they would pass
/// `limit`.
pub fn decode(text: &str, limit: u64) -> Result<Vec<u8>, Base64Error> {
    let size = decoded_size(text)?;
    if size == 0 {
        return Err(Base64Error::Empty);
    }
    if size > limit {
        return Err(Base64Error::TooLarge { size, limit });
    }
    let engine = if text.bytes().any(|b| b == b'-' || b == b'_') {
        &URL_SAFE
    } else {
        &STANDARD
    };
    let mut out = Vec::with_capacity(size as usize);
    let mut chunk = [0u8; CHUNK];
    let mut filled = 0;
    for b in text.bytes().filter(|b| !b.is_ascii_whitespace()) {
        chunk[filled] = b;
        filled += 1;
        if filled == CHUNK {
            engine
                .decode_vec(&chunk[..filled], &mut out)
                .map_err(|_| Base64Error::Invalid)?;
            filled = 0;
        }
    }
    if filled > 0 {
        engine
            .decode_vec(&chunk[..filled], &mut out)
            .map_err(|_| Base64Error::Invalid)?;
    }
    Ok(out)
}

/// How many bytes `text` decodes to, from its length: its characters but
/// line breaks, less the padding.
fn decoded_size(text: &str) -> Result<u64, Base64Error> {
    let significant = text.bytes().filter(|b| !b.is_ascii_whitespace()).count() as u64;
    let padding = text
        .bytes()
        .rev()
        .filter(|b| !b.is_ascii_whitespace())
        .take_while(|b| *b == b'=')
        .count() as u64;
    if padding > 2 {
        return Err(Base64Error::Invalid);
    }
    let digits = significant - padding;
    let whole = digits / 4 * 3;
    match digits % 4 {
        0 => Ok(whole),
        1 => Err(Base64Error::Invalid),
        rest => Ok(whole + rest - 1),
    }
}

/// The length of `size` bytes written as padded base64.
pub const fn encoded_len(size: u64) -> u64 {
    size.div_ceil(3) * 4
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_plain_padded_unpadded_wrapped_and_url_safe_base64() {
        let bytes: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
        let plain = base64::engine::general_purpose::STANDARD.encode(&bytes);
        assert_eq!(decode(&plain, 10_000).unwrap(), bytes);
        let wrapped: String = plain
            .as_bytes()
            .chunks(76)
            .map(|line| format!("{}\r\n", std::str::from_utf8(line).unwrap()))
            .collect();
        assert_eq!(decode(&wrapped, 10_000).unwrap(), bytes);
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes);
        assert_eq!(decode(&url, 10_000).unwrap(), bytes);
        assert_eq!(decode("aGk=", 2).unwrap(), b"hi");
        assert_eq!(decode("aGk", 2).unwrap(), b"hi");
    }

    #[test]
    fn refuses_oversized_empty_and_invalid_data_before_decoding() {
        assert_eq!(
            decode(&"A".repeat(4000), 2999),
            Err(Base64Error::TooLarge {
                size: 3000,
                limit: 2999
            })
        );
        assert_eq!(decode("", 10), Err(Base64Error::Empty));
        assert_eq!(decode("not base64!", 10), Err(Base64Error::Invalid));
        assert_eq!(decode("aGk===", 10), Err(Base64Error::Invalid));
        assert_eq!(decode("aGkhx", 10), Err(Base64Error::Invalid));
    }

    #[test]
    fn data_urls_give_their_type() {
        assert_eq!(
            split_data_url("data:image/png;base64,iVBO").unwrap(),
            ("iVBO", Some("image/png"))
        );
        assert_eq!(split_data_url("iVBO").unwrap(), ("iVBO", None));
        assert_eq!(split_data_url("data:text/plain,hi"), Err(Base64Error::Invalid));
        assert_eq!(encoded_len(3), 4);
        assert_eq!(encoded_len(4), 8);
    }
}
