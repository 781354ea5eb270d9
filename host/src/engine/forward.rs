//! What a forward of the [`Session`](super::Session) seam carries: the
//! content of an earlier message, sent again marked as forwarded.

use super::{ContactCard, OutgoingLocation, OutgoingMedia};

/// A message to send as a forward: WhatsApp shows it with the "Forwarded"
/// label (and "Forwarded many times" from a score of 5), as phones do.
#[derive(Debug, Clone)]
pub struct OutgoingForward {
    pub content: ForwardedContent,
    /// How many times the content has been forwarded, this time included
    /// (WhatsApp's `forwardingScore`): 1 for a first forward.
    pub score: u32,
}

/// The kinds of content that can be forwarded.
#[derive(Debug, Clone)]
pub enum ForwardedContent {
    Text(String),
    /// A file, uploaded again (a forward carries its own copy).
    Media(OutgoingMedia),
    Location(OutgoingLocation),
    /// One or several contact cards.
    Contacts(Vec<ContactCard>),
}

impl ForwardedContent {
    /// The kind's name, as sent messages are counted and recorded.
    pub fn kind(&self) -> &'static str {
        match self {
            ForwardedContent::Text(_) => "text",
            ForwardedContent::Media(media) => media.kind.as_str(),
            ForwardedContent::Location(_) => "location",
            ForwardedContent::Contacts(_) => "contact",
        }
    }
}
