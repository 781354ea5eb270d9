//! Actions on earlier messages, named by their WhatsApp id (react, edit,
//! revoke, delete for me, mark read), and chat states, by instance or by
//! the instance's own number (docs/API.md, "Message actions").

use serde::{Deserialize, Serialize};
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::{Json, Reply, Response};

use super::endpoint::{Access, Answer, Endpoint, Request, Verb, schema};
use super::error::ApiError;
use super::handler::Handle;
use super::messages::{SEND_ERRORS, Sent, check_text};
use super::router::Router;
use super::{AppState, body, phone};
use crate::engine::ChatState;
use crate::messaging::ActionError;
use crate::messaging::actions::MAX_READ_IDS;

/// A reaction's emoji, at most: the longest emoji sequences (families,
/// flags with tags) take about 30 bytes.
const MAX_EMOJI_BYTES: usize = 64;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct React {
    /// The id of the message to react to (sent or received by the instance).
    message_id: String,
    /// The emoji; empty or absent withdraws the instance's reaction.
    #[serde(default)]
    emoji: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Edit {
    /// The id of a text message the instance's account sent, at most 15 minutes ago.
    message_id: String,
    /// The new text, at most 65,536 bytes.
    message: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Revoke {
    /// The id of a message the instance's account sent, or of another
    /// member's message in a group where the account is an admin.
    message_id: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct DeleteForMe {
    /// The id of a message the instance sent or received.
    message_id: String,
}

#[derive(Serialize, schemars::JsonSchema)]
struct DeletedForMe {
    message_id: String,
    /// The chat it was in.
    chat: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct MarkRead {
    /// Ids of received messages, 1 to 100, in one chat or several.
    message_ids: Vec<String>,
}

#[derive(Serialize, schemars::JsonSchema)]
struct Read {
    /// The chats a read receipt went to.
    chats: Vec<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct SetChatState {
    /// A phone number in international form without `+`, or a JID.
    to: String,
    /// `typing`, `recording` (audio) or `paused`.
    state: ChatState,
}

#[derive(Serialize, schemars::JsonSchema)]
struct ChatStateSet {
    /// The chat's JID.
    to: String,
    state: ChatState,
}

/// Beyond bad input: an unknown message (404), a disconnected instance (503).
const ACTION_ERRORS: &[u16] = &[503];

static REACT: Endpoint = Endpoint {
    tag: "messages",
    summary: "React to a message, or withdraw the reaction",
    access: Access::Instance,
    request: Request::Json(schema::<React>),
    errors: ACTION_ERRORS,
    ..Endpoint::new(
        Verb::Post,
        "/api/messages/{id}/react",
        "react",
        Answer::Json(200, schema::<Sent>),
    )
};
static EDIT: Endpoint = Endpoint {
    tag: "messages",
    summary: "Edit a text message the instance sent",
    access: Access::Instance,
    request: Request::Json(schema::<Edit>),
    errors: ACTION_ERRORS,
    ..Endpoint::new(
        Verb::Post,
        "/api/messages/{id}/edit",
        "edit_message",
        Answer::Json(200, schema::<Sent>),
    )
};
static REVOKE: Endpoint = Endpoint {
    tag: "messages",
    summary: "Delete a message for everyone: the instance's own, or another member's in a group it is an admin of",
    access: Access::Instance,
    request: Request::Json(schema::<Revoke>),
    errors: ACTION_ERRORS,
    ..Endpoint::new(
        Verb::Post,
        "/api/messages/{id}/revoke",
        "revoke_message",
        Answer::Json(200, schema::<Sent>),
    )
};
static DELETE_FOR_ME: Endpoint = Endpoint {
    tag: "messages",
    summary: "Delete a message for the instance's account only (its phone and devices)",
    access: Access::Instance,
    request: Request::Json(schema::<DeleteForMe>),
    errors: ACTION_ERRORS,
    ..Endpoint::new(
        Verb::Post,
        "/api/messages/{id}/delete-for-me",
        "delete_message_for_me",
        Answer::Json(200, schema::<DeletedForMe>),
    )
};
static READ: Endpoint = Endpoint {
    tag: "messages",
    summary: "Mark received messages read",
    access: Access::Instance,
    request: Request::Json(schema::<MarkRead>),
    errors: ACTION_ERRORS,
    ..Endpoint::new(
        Verb::Post,
        "/api/messages/{id}/read",
        "mark_read",
        Answer::Json(200, schema::<Read>),
    )
};
static CHAT_STATE: Endpoint = Endpoint {
    tag: "messages",
    summary: "Show typing, recording or paused in a chat",
    access: Access::Instance,
    request: Request::Json(schema::<SetChatState>),
    errors: SEND_ERRORS,
    ..Endpoint::new(
        Verb::Post,
        "/api/send/{id}/chat-state",
        "chat_state",
        Answer::Json(200, schema::<ChatStateSet>),
    )
};
static CHAT_STATE_BY_NUMBER: Endpoint = Endpoint {
    tag: "messages",
    summary: "Show typing, recording or paused in a chat, from the instance whose own number is {phone}",
    request: Request::Json(schema::<SetChatState>),
    errors: SEND_ERRORS,
    ..Endpoint::new(
        Verb::Post,
        "/api/by-number/{phone}/chat-state",
        "chat_state_by_number",
        Answer::Json(200, schema::<ChatStateSet>),
    )
};

pub fn routes(router: &mut Router) -> BoxedFilter<(Response,)> {
    let react = router.route1(&REACT).and(body::json::<React>()).handle(react);
    let edit = router.route1(&EDIT).and(body::json::<Edit>()).handle(edit);
    let revoke = router.route1(&REVOKE).and(body::json::<Revoke>()).handle(revoke);
    let delete_for_me = router
        .route1(&DELETE_FOR_ME)
        .and(body::json::<DeleteForMe>())
        .handle(delete_for_me);
    let read = router.route1(&READ).and(body::json::<MarkRead>()).handle(read);
    let chat_state = router
        .route1(&CHAT_STATE)
        .and(body::json::<SetChatState>())
        .handle(chat_state);
    let chat_state_by_number = router
        .route1(&CHAT_STATE_BY_NUMBER)
        .and(body::json::<SetChatState>())
        .handle(chat_state_by_number);
    react
        .or(edit)
        .unify()
        .or(revoke)
        .unify()
        .or(delete_for_me)
        .unify()
        .or(read)
        .unify()
        .or(chat_state)
        .unify()
        .or(chat_state_by_number)
        .unify()
        .boxed()
}

impl From<ActionError> for ApiError {
    fn from(e: ActionError) -> ApiError {
        let message = e.to_string();
        let (status, code) = match e {
            ActionError::UnknownMessage(_) => (StatusCode::NOT_FOUND, "message_not_found"),
            ActionError::NotOwnMessage(_) => (StatusCode::UNPROCESSABLE_ENTITY, "not_own_message"),
            ActionError::NotGroupAdmin { .. } => (StatusCode::FORBIDDEN, "not_group_admin"),
            ActionError::NotText { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "not_a_text_message"),
            ActionError::EditWindowPassed(_) => (StatusCode::UNPROCESSABLE_ENTITY, "edit_window_passed"),
            ActionError::OwnMessage(_) => (StatusCode::UNPROCESSABLE_ENTITY, "own_message"),
            ActionError::Send(e) => return e.into(),
            ActionError::Store(e) => return ApiError::Store(e),
        };
        ApiError::new(status, code, message)
    }
}

fn check_message_id(id: &str) -> Result<(), ApiError> {
    // WhatsApp's ids are short ASCII (`3EB0...`); anything else is no id of ours.
    if id.is_empty() || id.len() > 128 || !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_message_id",
            "a message id is 1 to 128 printable ASCII characters",
        ));
    }
    Ok(())
}

fn check_emoji(emoji: &str) -> Result<(), ApiError> {
    if emoji.len() > MAX_EMOJI_BYTES || emoji.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_emoji",
            format!("a reaction is one emoji (at most {MAX_EMOJI_BYTES} bytes, no spaces), or empty to withdraw it"),
        ));
    }
    Ok(())
}

async fn react(state: AppState, id: String, body: React) -> Result<impl Reply, ApiError> {
    check_message_id(&body.message_id)?;
    check_emoji(&body.emoji)?;
    let sent = state.messenger.react(&id, &body.message_id, &body.emoji).await?;
    Ok(warp::reply::json(&Sent::from(sent)))
}

async fn edit(state: AppState, id: String, body: Edit) -> Result<impl Reply, ApiError> {
    check_message_id(&body.message_id)?;
    check_text(&body.message)?;
    let sent = state.messenger.edit(&id, &body.message_id, &body.message).await?;
    Ok(warp::reply::json(&Sent::from(sent)))
}

async fn revoke(state: AppState, id: String, body: Revoke) -> Result<impl Reply, ApiError> {
    check_message_id(&body.message_id)?;
    let sent = state.messenger.revoke(&id, &body.message_id).await?;
    Ok(warp::reply::json(&Sent::from(sent)))
}

async fn delete_for_me(state: AppState, id: String, body: DeleteForMe) -> Result<Json, ApiError> {
    check_message_id(&body.message_id)?;
    let chat = state.messenger.delete_for_me(&id, &body.message_id).await?;
    Ok(warp::reply::json(&DeletedForMe {
        message_id: body.message_id,
        chat,
    }))
}

async fn read(state: AppState, id: String, body: MarkRead) -> Result<Json, ApiError> {
    if body.message_ids.is_empty() || body.message_ids.len() > MAX_READ_IDS {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_message_ids",
            format!("name 1 to {MAX_READ_IDS} messages"),
        ));
    }
    for message_id in &body.message_ids {
        check_message_id(message_id)?;
    }
    let chats = state.messenger.mark_read(&id, &body.message_ids).await?;
    Ok(warp::reply::json(&Read { chats }))
}

async fn chat_state(state: AppState, id: String, body: SetChatState) -> Result<Json, ApiError> {
    let to = state.messenger.chat_state(&id, &body.to, body.state).await?;
    Ok(warp::reply::json(&ChatStateSet { to, state: body.state }))
}

async fn chat_state_by_number(state: AppState, number: String, body: SetChatState) -> Result<Json, ApiError> {
    let number = phone::normalize(&number)?;
    let id = state.instances.find_by_phone(&number).await?;
    chat_state(state, id, body).await
}
