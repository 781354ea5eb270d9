//! `<iq xmlns="w:m" type="set"><media_conn/></iq>`: where the media server
//! is and the auth token its uploads need, in wacore's own server-side shape
//! of the answer (`MediaConnResponseExtended`).

use std::sync::Arc;

use wacore::iq::mediaconn::{HostType, MediaConnHostExtended, MediaConnResponseExtended};
use wacore::protocol::ProtocolNode;
use wacore_binary::Node;

use crate::nodes;
use crate::server::Inner;

/// How long the answer holds, in seconds (WhatsApp's usual figures).
const TTL: u64 = 300;
const AUTH_TTL: u64 = 21_600;

pub fn handle(inner: &Arc<Inner>, node: &Node) -> Option<Node> {
    let Some(host) = inner.media.host() else {
        inner.unhandled("media_conn before the media server listens".to_owned());
        return None;
    };
    let mut primary = MediaConnHostExtended::simple(host.to_owned(), HostType::Primary);
    primary.upload = true;
    primary.download = true;
    primary.download_categories = ["image", "video", "audio", "document", "ptt", "sticker"]
        .map(str::to_owned)
        .to_vec();
    let answer = MediaConnResponseExtended {
        auth: inner.media.auth().to_owned(),
        ttl: TTL,
        auth_ttl: Some(AUTH_TTL),
        max_buckets: Some(12),
        ip_token: None,
        set_ip_token: None,
        hosts: vec![primary],
    };
    Some(nodes::iq_result(node, vec![answer.into_node()]))
}
