//! Link previews on texts: the card (title, description, JPEG thumbnail) a
//! text shows for a link in it. The caller gives the card, or asks the
//! server to make it from the page: the first `http(s)://` link in the text
//! is fetched under the outbound-URL policy (its timeout, no private
//! addresses unless allowed), only the first [`MAX_PAGE_BYTES`] of the page
//! are read, for `og:title`, `og:description` and `og:image` (`<title>` and
//! `<meta name="description">` when there is no Open Graph tag); the image,
//! when it is a JPEG of at most [`MAX_THUMBNAIL_BYTES`], is the thumbnail.
//! A fetched preview that yields nothing usable (no link, a refused or
//! failed fetch, a page without a title or description) is left out and the
//! text goes without it. A card the caller gives is checked instead, and
//! refused when malformed.

use bytes::Bytes;
use reqwest::Url;

use super::Messenger;
use crate::engine::LinkPreview;
use crate::outbound::Fetcher;

/// Bytes of a page read for its tags, at most.
pub const MAX_PAGE_BYTES: u64 = 256 * 1024;
/// A thumbnail's size, at most (WhatsApp's own are a few KiB).
pub const MAX_THUMBNAIL_BYTES: usize = 64 * 1024;
/// A preview's title, at most.
pub const MAX_TITLE_BYTES: usize = 1024;
/// A preview's description, at most.
pub const MAX_DESCRIPTION_BYTES: usize = 4096;
/// A preview's URL, at most.
pub const MAX_URL_BYTES: usize = 2048;

/// The preview a caller asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum PreviewRequest {
    /// This card, as given.
    Given(LinkPreview),
    /// The server makes the card from the first link in the text.
    Fetch,
}

/// Why a given preview is refused.
#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    #[error("the preview's url must be an http(s) link that appears in the text")]
    UrlNotInText,
    #[error("the preview's thumbnail must be a JPEG image")]
    ThumbnailNotJpeg,
    #[error("the preview's thumbnail has more than {MAX_THUMBNAIL_BYTES} bytes")]
    ThumbnailTooLarge,
    #[error("the preview's {0} is too long")]
    TooLong(&'static str),
}

impl Messenger {
    /// The card `request` asks for `text` to show: a given one once
    /// checked, a fetched one when the page yields one.
    pub(super) async fn preview_for(
        &self,
        text: &str,
        request: Option<PreviewRequest>,
    ) -> Result<Option<LinkPreview>, PreviewError> {
        match request {
            None => Ok(None),
            Some(PreviewRequest::Given(preview)) => checked(text, preview).map(Some),
            Some(PreviewRequest::Fetch) => {
                let Some(sources) = &self.sources else { return Ok(None) };
                Ok(fetch_preview(&sources.fetcher, text).await)
            }
        }
    }
}

/// `preview` if its link is in `text` and its parts are within bounds.
pub fn checked(text: &str, preview: LinkPreview) -> Result<LinkPreview, PreviewError> {
    let url = preview.url.trim();
    let is_link = url.starts_with("http://") || url.starts_with("https://");
    if !is_link || url.len() > MAX_URL_BYTES || !text.contains(url) {
        return Err(PreviewError::UrlNotInText);
    }
    if preview.title.as_ref().is_some_and(|t| t.len() > MAX_TITLE_BYTES) {
        return Err(PreviewError::TooLong("title"));
    }
    if preview
        .description
        .as_ref()
        .is_some_and(|d| d.len() > MAX_DESCRIPTION_BYTES)
    {
        return Err(PreviewError::TooLong("description"));
    }
    if let Some(thumbnail) = &preview.thumbnail {
        if thumbnail.len() > MAX_THUMBNAIL_BYTES {
            return Err(PreviewError::ThumbnailTooLarge);
        }
        if !is_jpeg(thumbnail) {
            return Err(PreviewError::ThumbnailNotJpeg);
        }
    }
    Ok(LinkPreview {
        url: url.to_owned(),
        title: preview.title.filter(|t| !t.trim().is_empty()),
        description: preview.description.filter(|d| !d.trim().is_empty()),
        thumbnail: preview.thumbnail,
    })
}

fn is_jpeg(data: &[u8]) -> bool {
    data.starts_with(&[0xFF, 0xD8, 0xFF])
}

/// The first `http(s)://` link in `text`, up to the next white space (a
/// closing bracket or sentence punctuation right after it is not part of it).
pub fn first_link(text: &str) -> Option<&str> {
    let start = [text.find("https://"), text.find("http://")]
        .into_iter()
        .flatten()
        .min()?;
    let rest = &text[start..];
    let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    let link = rest[..end].trim_end_matches(['.', ',', ';', ':', '!', '?', ')', ']', '>', '"', '\'']);
    (link.len() > "https://".len() && link.len() <= MAX_URL_BYTES).then_some(link)
}

/// The card for the first link in `text`, made from its page; `None` when
/// there is none to make.
async fn fetch_preview(fetcher: &Fetcher, text: &str) -> Option<LinkPreview> {
    let link = first_link(text)?;
    let page_url = Url::parse(link).ok()?;
    let page = fetcher.fetch_prefix(link, MAX_PAGE_BYTES).await.ok()?;
    if page.mime_type.as_deref().is_some_and(|t| !t.contains("html")) {
        return None;
    }
    let tags = PageTags::read(&String::from_utf8_lossy(&page.data));
    if tags.title.is_none() && tags.description.is_none() {
        return None;
    }
    let thumbnail = match tags.image.as_deref().and_then(|i| page_url.join(i).ok()) {
        Some(image) => fetch_thumbnail(fetcher, image.as_str()).await,
        None => None,
    };
    Some(LinkPreview {
        url: link.to_owned(),
        title: tags.title,
        description: tags.description,
        thumbnail,
    })
}

/// The image at `url` when it is a small enough JPEG.
async fn fetch_thumbnail(fetcher: &Fetcher, url: &str) -> Option<Bytes> {
    let image = fetcher.fetch(url, MAX_THUMBNAIL_BYTES as u64).await.ok()?;
    is_jpeg(&image.data).then_some(image.data)
}

/// What a page's head says about it.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PageTags {
    pub title: Option<String>,
    pub description: Option<String>,
    /// The image's URL as written (maybe relative).
    pub image: Option<String>,
}

impl PageTags {
    /// Reads the Open Graph tags of `html`, with `<title>` and the
    /// `description` meta tag as fallbacks. A plain scan, not a parser: it
    /// looks at `<meta …>` tags and the first `<title>` only.
    pub fn read(html: &str) -> PageTags {
        let lower = html.to_ascii_lowercase();
        let (mut og_title, mut og_description, mut og_image, mut description) = (None, None, None, None);
        let mut at = 0;
        while let Some(found) = lower[at..].find("<meta") {
            let start = at + found;
            let Some(len) = lower[start..].find('>') else { break };
            let tag = &html[start..start + len];
            at = start + len;
            let key = attribute(tag, "property").or_else(|| attribute(tag, "name"));
            let (Some(key), Some(content)) = (key, attribute(tag, "content")) else {
                continue;
            };
            let slot = match key.to_ascii_lowercase().as_str() {
                "og:title" => &mut og_title,
                "og:description" => &mut og_description,
                "og:image" | "og:image:url" | "og:image:secure_url" => &mut og_image,
                "description" => &mut description,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(content);
            }
        }
        let title = og_title.or_else(|| title_element(html, &lower));
        PageTags {
            title: bounded(title, MAX_TITLE_BYTES),
            description: bounded(og_description.or(description), MAX_DESCRIPTION_BYTES),
            image: og_image.filter(|i| !i.is_empty() && i.len() <= MAX_URL_BYTES),
        }
    }
}

/// The text of the first `<title>` element.
fn title_element(html: &str, lower: &str) -> Option<String> {
    let open = lower.find("<title")?;
    let start = open + lower[open..].find('>')? + 1;
    let end = start + lower[start..].find("</title")?;
    Some(decode_entities(&html[start..end]))
}

/// Trimmed, white space collapsed, cut to `max` bytes at a character
/// boundary; `None` when empty.
fn bounded(text: Option<String>, max: usize) -> Option<String> {
    let text = text?.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() {
        return None;
    }
    let mut cut = text.len().min(max);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    Some(text[..cut].to_owned())
}

/// The value of attribute `name` in `tag` (quoted with `"` or `'`, or bare).
fn attribute(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let mut from = 0;
    while let Some(found) = lower[from..].find(name) {
        let at = from + found;
        from = at + name.len();
        // A whole attribute name: preceded by white space, followed by `=`.
        let before_ok = lower[..at].ends_with(|c: char| c.is_ascii_whitespace());
        let after = lower[from..].trim_start();
        if !before_ok || !after.starts_with('=') {
            continue;
        }
        let value_at = tag.len() - after.len() + 1;
        let value = tag[value_at..].trim_start();
        let raw = match value.chars().next() {
            Some(quote @ ('"' | '\'')) => value[1..].split(quote).next().unwrap_or(""),
            _ => value
                .split(|c: char| c.is_ascii_whitespace() || c == '/')
                .next()
                .unwrap_or(""),
        };
        return Some(decode_entities(raw));
    }
    None
}

/// The few character references page titles use.
fn decode_entities(text: &str) -> String {
    if !text.contains('&') {
        return text.trim().to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let end = rest.find(';').filter(|&e| e <= 10);
        let decoded = end.and_then(|e| {
            let name = &rest[1..e];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" | "#39" => Some('\''),
                "nbsp" => Some(' '),
                _ => name
                    .strip_prefix("#x")
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .or_else(|| name.strip_prefix('#').and_then(|d| d.parse().ok()))
                    .and_then(char::from_u32),
            };
            c.map(|c| (c, e))
        });
        match decoded {
            Some((c, e)) => {
                out.push(c);
                rest = &rest[e + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_graph_tags_win_and_title_is_the_fallback() {
        let html = r#"<html><head><title>Plain &amp; simple</title>
            <meta property="og:title" content="The &quot;Shop&quot;">
            <META name='description' content='from meta'>
            <meta content="https://cdn.test/a.jpg" property="og:image" />
            </head>"#;
        assert_eq!(
            PageTags::read(html),
            PageTags {
                title: Some("The \"Shop\"".to_owned()),
                description: Some("from meta".to_owned()),
                image: Some("https://cdn.test/a.jpg".to_owned()),
            }
        );
        let bare = "<title>\n  Only   a title </title><p>hi</p>";
        assert_eq!(PageTags::read(bare).title.as_deref(), Some("Only a title"));
        assert_eq!(PageTags::read("<p>nothing</p>"), PageTags::default());
    }

    #[test]
    fn the_first_link_is_found_without_trailing_punctuation() {
        assert_eq!(
            first_link("see (https://shop.test/a?b=1). ok"),
            Some("https://shop.test/a?b=1")
        );
        assert_eq!(first_link("no link here"), None);
        assert_eq!(first_link("http://x.test/ and https://y.test/"), Some("http://x.test/"));
    }

    #[test]
    fn a_given_preview_is_checked() {
        let preview = |url: &str, thumbnail: &[u8]| LinkPreview {
            url: url.to_owned(),
            title: Some("T".to_owned()),
            description: None,
            thumbnail: Some(Bytes::copy_from_slice(thumbnail)),
        };
        let text = "look https://shop.test/x";
        assert!(checked(text, preview("https://shop.test/x", &[0xFF, 0xD8, 0xFF, 0xE0])).is_ok());
        assert!(matches!(
            checked(text, preview("https://other.test/", &[0xFF, 0xD8, 0xFF])),
            Err(PreviewError::UrlNotInText)
        ));
        assert!(matches!(
            checked(text, preview("https://shop.test/x", b"\x89PNG")),
            Err(PreviewError::ThumbnailNotJpeg)
        ));
    }
}
