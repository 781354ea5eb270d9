//! What a caller asks of a text send: the words, a quote, who it mentions
//! and its link preview, before the Messenger resolves them (mentions to
//! JIDs, a preview to fetch into its card).

use super::{Mentions, PreviewRequest};

/// WhatsApp's own limit on a text message, in bytes.
pub const MAX_TEXT_BYTES: usize = 65_536;

/// A text to send, as asked.
#[derive(Debug, Clone, Default)]
pub struct TextSend {
    pub text: String,
    /// The id of the message this one replies to.
    pub reply_to: Option<String>,
    pub mentions: Mentions,
    /// The card for a link in the text: none, given, or fetched.
    pub preview: Option<PreviewRequest>,
}
