//! Message routes: send text by instance or by the instance's own number, and
//! check numbers (API.md, "Messages").

use serde::{Deserialize, Serialize};
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use super::auth::{Credentials, credentials};
use super::error::{ApiError, reject};
use super::{AppState, body, phone, with_state};
use crate::engine::SentMessage;
use crate::messaging::SendError;

/// WhatsApp's own limit on a text message.
const MAX_TEXT_BYTES: usize = 65_536;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SendText {
    to: String,
    message: String,
    reply_to: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckBody {
    phone: String,
}

#[derive(Serialize)]
pub(super) struct Sent {
    message_id: String,
    to: String,
    timestamp: String,
}

impl From<SentMessage> for Sent {
    fn from(sent: SentMessage) -> Sent {
        Sent {
            message_id: sent.message_id,
            to: sent.to,
            timestamp: crate::instances::rfc3339(sent.timestamp),
        }
    }
}

#[derive(Serialize)]
struct Checked {
    phone: String,
    on_whatsapp: bool,
    jid: Option<String>,
}

type Result<T> = std::result::Result<T, warp::Rejection>;

pub fn routes(state: AppState) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone {
    let send = warp::path!("api" / "send" / String)
        .and(warp::post())
        .and(credentials())
        .and(body::json::<SendText>())
        .and(with_state(state.clone()))
        .and_then(send);
    let by_number = warp::path!("api" / "by-number" / String)
        .and(warp::post())
        .and(credentials())
        .and(body::json::<SendText>())
        .and(with_state(state.clone()))
        .and_then(send_by_number);
    let check = warp::path!("api" / "check" / String)
        .and(warp::post())
        .and(credentials())
        .and(body::json::<CheckBody>())
        .and(with_state(state))
        .and_then(check);
    send.or(by_number).unify().or(check).unify()
}

impl From<SendError> for ApiError {
    fn from(e: SendError) -> ApiError {
        match e {
            SendError::Recipient(e) => e.into(),
            SendError::NotOnWhatsapp(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "recipient_not_on_whatsapp", e.to_string())
            }
            SendError::Instance(e) => e.into(),
            SendError::Engine(e) => e.into(),
        }
    }
}

fn check_text(text: &str) -> std::result::Result<(), ApiError> {
    if text.trim().is_empty() {
        return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "empty_message", "the message is empty"));
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

async fn send_text(state: &AppState, id: &str, body: SendText) -> Result<Response> {
    check_text(&body.message).map_err(reject)?;
    let sent = state
        .messenger
        .send_text(id, &body.to, &body.message, body.reply_to.as_deref())
        .await
        .map_err(reject)?;
    Ok(warp::reply::json(&Sent::from(sent)).into_response())
}

async fn send(id: String, credentials: Credentials, body: SendText, state: AppState) -> Result<Response> {
    state.require_instance(&credentials, &id).map_err(reject)?;
    send_text(&state, &id, body).await
}

async fn send_by_number(number: String, credentials: Credentials, body: SendText, state: AppState) -> Result<Response> {
    state.require_admin(&credentials).map_err(reject)?;
    let number = phone::normalize(&number).map_err(reject)?;
    let id = state.instances.find_by_phone(&number).await.map_err(reject)?;
    send_text(&state, &id, body).await
}

async fn check(id: String, credentials: Credentials, body: CheckBody, state: AppState) -> Result<Response> {
    state.require_instance(&credentials, &id).map_err(reject)?;
    let answer = state.messenger.check(&id, &body.phone).await.map_err(reject)?;
    Ok(warp::reply::json(&Checked {
        phone: answer.phone,
        on_whatsapp: answer.on_whatsapp,
        jid: answer.jid,
    })
    .into_response())
}
