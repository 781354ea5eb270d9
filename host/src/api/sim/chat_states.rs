//! `POST /sim/instances/{id}/chat-state`: a contact of the simulated network
//! types, records a voice note or stops, in its chat with the instance or in a
//! group, as WhatsApp's `<chatstate>` stanza says it.

use std::convert::Infallible;

use serde::{Deserialize, Serialize};
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::{Reply, Response};

use super::super::endpoint::{Answer, Endpoint, Request, Verb, schema};
use super::super::error::ApiError;
use super::super::handler::Handle;
use super::super::router::Router;
use super::super::{AppState, body};
use super::{CONFLICT, TAG, check, contact_jid, group_jid};
use crate::engine::sim::SimNetwork;
use crate::events::{ChatState, ChatStateChange, EventKind};

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct ChatStateBody {
    /// The contact: a phone number, or a JID (`…@s.whatsapp.net`, or `…@lid`
    /// for a contact WhatsApp names by its LID).
    from: String,
    /// `typing`, `recording` or `paused`.
    state: ChatState,
    /// The group (`…@g.us`) the contact types in; absent: its chat with the instance.
    group: Option<String>,
}

#[derive(Serialize, schemars::JsonSchema)]
struct Shown {
    shown: bool,
}

static CHAT_STATE: Endpoint = Endpoint {
    tag: TAG,
    summary: "A contact types, records a voice note or stops, in a chat with the instance (not journalled)",
    request: Request::Json(schema::<ChatStateBody>),
    errors: CONFLICT,
    ..Endpoint::new(
        Verb::Post,
        "/sim/instances/{id}/chat-state",
        "sim_chat_state",
        Answer::Json(200, schema::<Shown>),
    )
};

/// The route, given the filter that hands out the network (`sim::routes`'s).
pub(super) fn route<N>(router: &mut Router, net: N) -> BoxedFilter<(Response,)>
where
    N: Filter<Extract = (SimNetwork,), Error = Infallible> + Clone + Send + Sync + 'static,
{
    router
        .route1(&CHAT_STATE)
        .and(body::json::<ChatStateBody>())
        .and(net)
        .handle(chat_state)
        .boxed()
}

async fn chat_state(
    state: AppState,
    id: String,
    body: ChatStateBody,
    network: SimNetwork,
) -> Result<impl Reply, ApiError> {
    check(&state, &id)?;
    let contact = contact_jid(&body.from)?;
    let group = body.group.as_deref().map(group_jid).transpose()?;
    network
        .chat_state(&id, EventKind::ChatState(change(contact, group, body.state)))
        .await?;
    Ok(warp::reply::json(&Shown { shown: true }))
}

/// The event a contact's chat state makes. A contact named by its LID keeps it
/// as `sender` too: the simulated network, like a client that has not seen the
/// contact's number yet, knows no phone number for it.
fn change(contact: String, group: Option<String>, state: ChatState) -> ChatStateChange {
    let sender_lid = contact.ends_with("@lid").then(|| contact.clone());
    ChatStateChange {
        sender_phone: None,
        chat: group.clone().unwrap_or_else(|| contact.clone()),
        sender: contact,
        sender_lid,
        is_group: group.is_some(),
        state,
        timestamp: crate::clock::now_secs(),
    }
}
