//! Voice notes: WhatsApp plays a voice note (an audio message flagged
//! push-to-talk) only when it is Opus in an Ogg container; iPhones in
//! particular show other codecs sent as voice notes as unplayable. So a voice
//! note is checked to be Ogg Opus before it is sent, and its length is read
//! from the stream for the player's duration.

/// Opus in Ogg always counts granules at 48 kHz (RFC 7845 §4).
const GRANULES_PER_SECOND: u64 = 48_000;
/// An Ogg page header, before its segment table.
const PAGE_HEADER: usize = 27;

/// Why audio cannot be sent as a voice note.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a voice note must be Opus audio in an Ogg container (audio/ogg; codecs=opus)")]
pub struct NotOggOpus;

/// What a voice note's player needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VoiceNote {
    /// Its length, rounded up to whole seconds.
    pub seconds: u32,
}

/// One Ogg page: its granule position, stream serial, and where its payload is.
struct Page {
    granule: u64,
    serial: u32,
    payload: std::ops::Range<usize>,
}

/// The page at `at`, if a whole one is there.
fn page(bytes: &[u8], at: usize) -> Option<Page> {
    let header = bytes.get(at..at + PAGE_HEADER)?;
    if &header[..4] != b"OggS" || header[4] != 0 {
        return None;
    }
    let granule = u64::from_le_bytes(header[6..14].try_into().ok()?);
    let serial = u32::from_le_bytes(header[14..18].try_into().ok()?);
    let segments = usize::from(header[26]);
    let table = bytes.get(at + PAGE_HEADER..at + PAGE_HEADER + segments)?;
    let start = at + PAGE_HEADER + segments;
    let end = start + table.iter().map(|&s| usize::from(s)).sum::<usize>();
    (end <= bytes.len()).then_some(Page {
        granule,
        serial,
        payload: start..end,
    })
}

/// Checks that `bytes` is Ogg Opus and reads its length.
pub fn inspect(bytes: &[u8]) -> Result<VoiceNote, NotOggOpus> {
    let first = page(bytes, 0).ok_or(NotOggOpus)?;
    // The first packet of an Opus stream is its identification header.
    let head = bytes.get(first.payload.clone()).ok_or(NotOggOpus)?;
    if head.len() < 19 || &head[..8] != b"OpusHead" {
        return Err(NotOggOpus);
    }
    let pre_skip = u64::from(u16::from_le_bytes([head[10], head[11]]));
    // The last granule position of the stream is where its audio ends; a
    // page with none (all ones) ends no packet.
    let mut last = 0;
    let mut at = first.payload.end;
    while let Some(next) = page(bytes, at) {
        if next.serial == first.serial && next.granule != u64::MAX {
            last = next.granule;
        }
        at = next.payload.end;
    }
    let samples = last.saturating_sub(pre_skip);
    let seconds = samples.div_ceil(GRANULES_PER_SECOND);
    Ok(VoiceNote {
        seconds: u32::try_from(seconds).unwrap_or(u32::MAX),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An Ogg page of stream 7 with `granule` and `payload` (one segment
    /// per 255 bytes; CRC left zero, which the reader does not check).
    pub(crate) fn ogg_page(granule: u64, payload: &[u8]) -> Vec<u8> {
        let mut page = b"OggS\0\0".to_vec();
        page.extend(granule.to_le_bytes());
        page.extend(7u32.to_le_bytes());
        page.extend([0; 8]);
        let mut table = vec![255u8; payload.len() / 255];
        table.push((payload.len() % 255) as u8);
        page.push(table.len() as u8);
        page.extend(table);
        page.extend(payload);
        page
    }

    fn opus_head(pre_skip: u16) -> Vec<u8> {
        let mut head = b"OpusHead\x01\x01".to_vec();
        head.extend(pre_skip.to_le_bytes());
        head.extend(48_000u32.to_le_bytes());
        head.extend([0, 0, 0]);
        head
    }

    #[test]
    fn an_opus_stream_is_a_voice_note_as_long_as_its_last_granule() {
        let mut file = ogg_page(0, &opus_head(312));
        file.extend(ogg_page(0, b"OpusTags\0\0\0\0\0\0\0\0"));
        file.extend(ogg_page(48_000, &[0; 300]));
        file.extend(ogg_page(u64::MAX, &[0; 10]));
        file.extend(ogg_page(312 + 2 * 48_000 + 1, &[0; 40]));
        assert_eq!(inspect(&file), Ok(VoiceNote { seconds: 3 }));
        // A file cut short mid-page still says how long what is there lasts.
        file.truncate(file.len() - 5);
        assert_eq!(inspect(&file), Ok(VoiceNote { seconds: 1 }));
    }

    #[test]
    fn anything_else_is_refused() {
        let vorbis = ogg_page(0, b"\x01vorbis\0\0\0\0\x01\x44\xac\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0");
        let mp3 = b"ID3\x04\0\0\0\0\0\0\xff\xfb\x90\x64".to_vec();
        for bad in [vorbis, mp3, Vec::new(), b"OggS".to_vec()] {
            assert_eq!(inspect(&bad), Err(NotOggOpus));
        }
    }
}
