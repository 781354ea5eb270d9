//! What a text send of the [`Session`](super::Session) seam carries: the
//! text and everything that rides in its context (a quote, mentions, a link
//! preview). One struct, so a new option is a field, not a new parameter on
//! every engine.

/// A text message to send.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OutgoingText {
    pub text: String,
    /// The id of the message this one quotes.
    pub reply_to: Option<String>,
    /// The users the text mentions, as user JIDs.
    pub mentions: Vec<String>,
    /// The card shown for a link in the text.
    pub preview: Option<LinkPreview>,
}

impl OutgoingText {
    /// A plain text, with nothing in its context.
    pub fn plain(text: impl Into<String>) -> OutgoingText {
        OutgoingText {
            text: text.into(),
            ..OutgoingText::default()
        }
    }

    /// The text carries something beyond its words (WhatsApp then sends it
    /// as an extended text message rather than a bare conversation).
    pub fn is_extended(&self) -> bool {
        self.reply_to.is_some() || !self.mentions.is_empty() || self.preview.is_some()
    }
}

/// The card a text shows for a link it contains.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkPreview {
    /// The link as it appears in the text (WhatsApp's `matchedText`).
    pub url: String,
    pub title: Option<String>,
    pub description: Option<String>,
    /// A small JPEG shown beside the title.
    pub thumbnail: Option<bytes::Bytes>,
}
