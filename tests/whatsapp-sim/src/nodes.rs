//! Small builders for the stanzas the server sends again and again.

use wacore_binary::builder::NodeBuilder;
use wacore_binary::{Node, SERVER_JID};

/// Seconds since the epoch, as the `t` attribute wants it.
pub fn now() -> String {
    wacore::time::now_secs().to_string()
}

/// `<iq type="result">` answering `request`, with optional content.
pub fn iq_result(request: &Node, children: Vec<Node>) -> Node {
    let mut b = NodeBuilder::new("iq")
        .attr("type", "result")
        .attr("id", attr(request, "id").unwrap_or_default())
        .attr("from", attr(request, "to").unwrap_or_else(|| SERVER_JID.to_owned()));
    if !children.is_empty() {
        b = b.children(children);
    }
    b.build()
}

/// `<iq type="error"><error code text/></iq>` answering `request`.
pub fn iq_error(request: &Node, code: u16, text: &str) -> Node {
    NodeBuilder::new("iq")
        .attr("type", "error")
        .attr("id", attr(request, "id").unwrap_or_default())
        .attr("from", attr(request, "to").unwrap_or_else(|| SERVER_JID.to_owned()))
        .children([NodeBuilder::new("error")
            .attr("code", code.to_string())
            .attr("text", text)
            .build()])
        .build()
}

/// An attribute as a string.
pub fn attr(node: &Node, key: &str) -> Option<String> {
    node.attrs.get(key).map(|v| v.as_str().into_owned())
}

/// The byte content of a node.
pub fn bytes(node: &Node) -> Option<&[u8]> {
    match &node.content {
        Some(wacore_binary::NodeContent::Bytes(b)) => Some(b),
        _ => None,
    }
}

/// A big-endian unsigned number held in up to four bytes.
pub fn be_uint(bytes: &[u8]) -> u32 {
    bytes.iter().take(4).fold(0u32, |acc, b| (acc << 8) | u32::from(*b))
}

/// The tags of a node's children, for logs.
pub fn child_tags(node: &Node) -> String {
    node.children()
        .map(|c| c.iter().map(|c| c.tag.as_ref()).collect::<Vec<_>>().join(","))
        .unwrap_or_default()
}

/// A whole stanza as XML-ish text, for the unhandled list.
pub fn show(node: &Node) -> String {
    let text = wacore::xml::DisplayableNode(node).to_string();
    if text.len() > 600 {
        format!("{}…", &text[..text.floor_char_boundary(600)])
    } else {
        text
    }
}
