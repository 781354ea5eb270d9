//! What the send routes accept beyond their content: a text's link preview
//! (`link_preview`: `true` to have the server fetch it, or the card itself),
//! and who a text or a caption mentions (`mentions`, `mention_all`), with
//! the 4xx for each way they can be wrong.

use base64::Engine as _;
use serde::Deserialize;
use warp::http::StatusCode;

use super::error::ApiError;
use crate::engine::LinkPreview;
use crate::messaging::link_preview::PreviewError;
use crate::messaging::{Mentions, PreviewRequest};

/// Users a caller may name in one message (a large group has 1,024
/// members; everyone is what `mention_all` is for).
pub(super) const MAX_NAMED_MENTIONS: usize = 256;

/// A text's link preview, as a caller asks for it.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub(super) enum LinkPreviewField {
    /// `true`: the server makes the card from the first link in the text
    /// (sent without one when the page gives nothing usable); `false`: none.
    Fetch(bool),
    /// The card, as given.
    Given(GivenPreview),
}

/// A link preview the caller made.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct GivenPreview {
    /// The link, as it appears in the text.
    url: String,
    /// At most 1,024 bytes.
    title: Option<String>,
    /// At most 4,096 bytes.
    description: Option<String>,
    /// A JPEG image of at most 64 KiB, base64.
    thumbnail: Option<String>,
}

impl LinkPreviewField {
    pub(super) fn into_request(self) -> Result<Option<PreviewRequest>, ApiError> {
        match self {
            LinkPreviewField::Fetch(false) => Ok(None),
            LinkPreviewField::Fetch(true) => Ok(Some(PreviewRequest::Fetch)),
            LinkPreviewField::Given(given) => {
                let thumbnail = match given.thumbnail {
                    None => None,
                    Some(encoded) => Some(
                        base64::engine::general_purpose::STANDARD
                            .decode(encoded.trim())
                            .map_err(|_| {
                                ApiError::new(
                                    StatusCode::UNPROCESSABLE_ENTITY,
                                    "invalid_link_preview",
                                    "the preview's thumbnail is not valid base64",
                                )
                            })?
                            .into(),
                    ),
                };
                Ok(Some(PreviewRequest::Given(LinkPreview {
                    url: given.url,
                    title: given.title,
                    description: given.description,
                    thumbnail,
                })))
            }
        }
    }
}

/// The mentions a caller named (at most [`MAX_NAMED_MENTIONS`]), and
/// whether it asked for everyone in the group.
pub(super) fn mentions(users: Vec<String>, everyone: bool) -> Result<Mentions, ApiError> {
    if users.len() > MAX_NAMED_MENTIONS {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "too_many_mentions",
            format!("a message mentions at most {MAX_NAMED_MENTIONS} users"),
        ));
    }
    Ok(Mentions { users, everyone })
}

/// A form's `mentions` fields: each a phone number or a JID, or several
/// separated by commas.
pub(super) fn split_mentions(fields: &[String]) -> Vec<String> {
    fields
        .iter()
        .flat_map(|field| field.split(','))
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(str::to_owned)
        .collect()
}

impl From<PreviewError> for ApiError {
    fn from(e: PreviewError) -> ApiError {
        let code = match e {
            PreviewError::ThumbnailNotJpeg => "thumbnail_not_jpeg",
            PreviewError::ThumbnailTooLarge => "thumbnail_too_large",
            PreviewError::UrlNotInText | PreviewError::TooLong(_) => "invalid_link_preview",
        };
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, e.to_string())
    }
}

/// A form's true/false field `name` (absent or empty: false).
pub(super) fn flag_field(name: &str, given: Option<&str>) -> Result<bool, ApiError> {
    match given.map(str::trim) {
        None | Some("") => Ok(false),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(_) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            format!("{name} is true or false"),
        )),
    }
}
