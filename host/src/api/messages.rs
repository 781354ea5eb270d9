//! Message routes: send text by instance or by the instance's own number, and
//! check numbers (docs/API.md, "Messages").

use serde::{Deserialize, Serialize};
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use super::endpoint::{Access, Answer, Endpoint, Request, Verb, schema};
use super::error::ApiError;
use super::handler::Handle;
use super::router::Router;
use super::text_extras::{LinkPreviewField, mentions};
use super::{AppState, body, phone, send_queue};
use crate::engine::SentMessage;
use crate::messaging::{MAX_TEXT_BYTES, SendError, TextSend};
use crate::send_queue::Queued;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct SendText {
    /// A phone number in international form without `+`, or a JID
    /// (`…@s.whatsapp.net`, `…@g.us`).
    to: String,
    /// The text, at most 65,536 bytes.
    message: String,
    /// The id of the message this one replies to.
    reply_to: Option<String>,
    /// Users the text mentions (at most 256), as phone numbers or user JIDs;
    /// write `@<number>` in the text where each should show.
    #[serde(default)]
    mentions: Vec<String>,
    /// Mention every member of the group the text goes to (`to` must be a
    /// group JID), besides `mentions`.
    #[serde(default, alias = "mentionAll")]
    mention_all: bool,
    /// The card for a link in the text: `true` has the server make it from
    /// the first link's page (the text goes without one when the page gives
    /// nothing usable or the outbound-URL policy refuses it), or the card
    /// itself.
    #[serde(alias = "linkPreview")]
    link_preview: Option<LinkPreviewField>,
    /// Queue the send instead of sending it now: the answer is 202 with a
    /// job (docs/API.md, "Send queue").
    #[serde(default)]
    queue: bool,
    /// Queue the send to go at this time (RFC 3339) at the earliest; implies `queue`.
    send_at: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct CheckBody {
    phone: String,
}

/// The answer of every send route.
#[derive(Serialize, schemars::JsonSchema)]
pub(super) struct Sent {
    message_id: String,
    /// The recipient's JID.
    to: String,
    timestamp: String,
    /// The recipient's LID (`…@lid`), when WhatsApp has told it; absent
    /// otherwise (and for groups).
    #[serde(skip_serializing_if = "Option::is_none")]
    lid: Option<String>,
}

impl From<SentMessage> for Sent {
    fn from(sent: SentMessage) -> Sent {
        Sent {
            message_id: sent.message_id,
            to: sent.to,
            timestamp: crate::clock::rfc3339(sent.timestamp),
            lid: sent.lid,
        }
    }
}

#[derive(Serialize, schemars::JsonSchema)]
struct Checked {
    phone: String,
    on_whatsapp: bool,
    jid: Option<String>,
}

/// What a send can fail with beyond bad input: an instance that is not
/// connected (503), a recipient not on WhatsApp (422, in the body statuses).
pub(super) const SEND_ERRORS: &[u16] = &[503];

static SEND: Endpoint = Endpoint {
    queued: Some(schema::<Queued>),
    tag: "messages",
    summary: "Send a text message (optionally as a reply)",
    access: Access::Instance,
    request: Request::Json(schema::<SendText>),
    errors: SEND_ERRORS,
    ..Endpoint::new(
        Verb::Post,
        "/api/send/{id}",
        "send_text",
        Answer::Json(200, schema::<Sent>),
    )
};
static BY_NUMBER: Endpoint = Endpoint {
    queued: Some(schema::<Queued>),
    tag: "messages",
    summary: "Send a text message from the instance whose own number is {phone}",
    request: Request::Json(schema::<SendText>),
    errors: SEND_ERRORS,
    ..Endpoint::new(
        Verb::Post,
        "/api/by-number/{phone}",
        "send_text_by_number",
        Answer::Json(200, schema::<Sent>),
    )
};
static CHECK: Endpoint = Endpoint {
    tag: "messages",
    summary: "Whether a phone number is on WhatsApp",
    access: Access::Instance,
    request: Request::Json(schema::<CheckBody>),
    errors: SEND_ERRORS,
    ..Endpoint::new(
        Verb::Post,
        "/api/check/{id}",
        "check_number",
        Answer::Json(200, schema::<Checked>),
    )
};

pub fn routes(router: &mut Router) -> BoxedFilter<(Response,)> {
    let send = router
        .route1(&SEND)
        .and(body::json_and_value::<SendText>())
        .handle(send);
    let by_number = router
        .route1(&BY_NUMBER)
        .and(body::json_and_value::<SendText>())
        .handle(send_by_number);
    let check = router.route1(&CHECK).and(body::json::<CheckBody>()).handle(check);
    send.or(by_number).unify().or(check).unify().boxed()
}

impl From<SendError> for ApiError {
    fn from(e: SendError) -> ApiError {
        match e {
            SendError::Recipient(e) => e.into(),
            SendError::NotOnWhatsapp(_) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "recipient_not_on_whatsapp",
                e.to_string(),
            ),
            SendError::Instance(e) => e.into(),
            SendError::Engine(e) => e.into(),
            SendError::NotAGroup(_) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "not_a_group", e.to_string()),
            SendError::UnknownGroup(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "not_in_group", e.to_string())
            }
            SendError::TooManyMentions(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "too_many_mentions", e.to_string())
            }
            SendError::Preview(e) => e.into(),
            SendError::Paced(retry_after_secs) => ApiError::Paced {
                retry_after_secs,
                message: e.to_string(),
            },
        }
    }
}

pub(super) fn check_text(text: &str) -> Result<(), ApiError> {
    if text.trim().is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "empty_message",
            "the message is empty",
        ));
    }
    if text.len() > MAX_TEXT_BYTES {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "message_too_long",
            format!("a text message holds at most {MAX_TEXT_BYTES} bytes"),
        ));
    }
    Ok(())
}

/// The text `body` asks for, checked.
fn text_send(body: SendText) -> Result<TextSend, ApiError> {
    check_text(&body.message)?;
    Ok(TextSend {
        mentions: mentions(body.mentions, body.mention_all)?,
        preview: body
            .link_preview
            .map(LinkPreviewField::into_request)
            .transpose()?
            .flatten(),
        text: body.message,
        reply_to: body.reply_to,
    })
}

/// Sends the text `body` asks for now (a direct send, or a queued one when it goes).
pub(super) async fn send_text(state: &AppState, id: &str, body: SendText) -> Result<SentMessage, ApiError> {
    let to = body.to.clone();
    let text = text_send(body)?;
    Ok(state.messenger.send_rich_text(id, &to, text).await?)
}

/// Sends the text now, or queues it once it is known to be sendable.
async fn send_or_queue(
    state: &AppState,
    id: &str,
    body: SendText,
    raw: serde_json::Value,
) -> Result<Response, ApiError> {
    if let Some(send_at) = send_queue::queueing(state, body.queue, body.send_at.as_deref())? {
        let to = body.to.clone();
        text_send(body)?;
        state.messenger.check_sendable(id, &to).await?;
        return send_queue::enqueue(state, id, send_queue::TEXT, raw, send_at).await;
    }
    let sent = send_text(state, id, body).await?;
    Ok(warp::reply::json(&Sent::from(sent)).into_response())
}

async fn send(state: AppState, id: String, body: SendText, raw: serde_json::Value) -> Result<Response, ApiError> {
    send_or_queue(&state, &id, body, raw).await
}

async fn send_by_number(
    state: AppState,
    number: String,
    body: SendText,
    raw: serde_json::Value,
) -> Result<Response, ApiError> {
    let number = phone::normalize(&number)?;
    let id = state.instances.find_by_phone(&number).await?;
    send_or_queue(&state, &id, body, raw).await
}

async fn check(state: AppState, id: String, body: CheckBody) -> Result<impl Reply, ApiError> {
    let answer = state.messenger.check(&id, &body.phone).await?;
    Ok(warp::reply::json(&Checked {
        phone: answer.phone,
        on_whatsapp: answer.on_whatsapp,
        jid: answer.jid,
    }))
}
