//! Sending a location or contact cards, by instance or by the instance's own
//! number (docs/API.md, "Messages"). The checks are `messaging::places_and_cards`',
//! shared with the plugins' actions; here they get their codes.

use serde::Deserialize;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use super::endpoint::{Access, Answer, Endpoint, Request, Verb, schema};
use super::error::ApiError;
use super::handler::Handle;
use super::messages::{SEND_ERRORS, Sent};
use super::router::Router;
use super::{AppState, body, phone, send_queue};
use crate::engine::SentMessage;
use crate::messaging::places_and_cards::{self, CardRequest, Unsendable};
use crate::send_queue::Queued;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct SendLocation {
    /// A phone number in international form without `+`, or a JID.
    to: String,
    /// Degrees, -90 to 90.
    latitude: f64,
    /// Degrees, -180 to 180.
    longitude: f64,
    /// The place's name, at most 1,024 bytes.
    name: Option<String>,
    /// The place's address, at most 1,024 bytes.
    address: Option<String>,
    /// Queue the send instead (202 with a job; docs/API.md, "Send queue").
    #[serde(default)]
    queue: bool,
    /// Queue the send to go at this time (RFC 3339) at the earliest; implies `queue`.
    send_at: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct SendContacts {
    /// A phone number in international form without `+`, or a JID.
    to: String,
    /// 1 to 20 cards, sent as one message.
    contacts: Vec<CardRequest>,
    /// Queue the send instead (202 with a job; docs/API.md, "Send queue").
    #[serde(default)]
    queue: bool,
    /// Queue the send to go at this time (RFC 3339) at the earliest; implies `queue`.
    send_at: Option<String>,
}

static LOCATION: Endpoint = Endpoint {
    queued: Some(schema::<Queued>),
    tag: "messages",
    summary: "Send a location",
    access: Access::Instance,
    request: Request::Json(schema::<SendLocation>),
    errors: SEND_ERRORS,
    ..Endpoint::new(
        Verb::Post,
        "/api/send/{id}/location",
        "send_location",
        Answer::Json(200, schema::<Sent>),
    )
};
static CONTACTS: Endpoint = Endpoint {
    queued: Some(schema::<Queued>),
    tag: "messages",
    summary: "Send one or several contact cards",
    access: Access::Instance,
    request: Request::Json(schema::<SendContacts>),
    errors: SEND_ERRORS,
    ..Endpoint::new(
        Verb::Post,
        "/api/send/{id}/contact",
        "send_contacts",
        Answer::Json(200, schema::<Sent>),
    )
};
static LOCATION_BY_NUMBER: Endpoint = Endpoint {
    queued: Some(schema::<Queued>),
    tag: "messages",
    summary: "Send a location from the instance whose own number is {phone}",
    request: Request::Json(schema::<SendLocation>),
    errors: SEND_ERRORS,
    ..Endpoint::new(
        Verb::Post,
        "/api/by-number/{phone}/location",
        "send_location_by_number",
        Answer::Json(200, schema::<Sent>),
    )
};
static CONTACTS_BY_NUMBER: Endpoint = Endpoint {
    queued: Some(schema::<Queued>),
    tag: "messages",
    summary: "Send contact cards from the instance whose own number is {phone}",
    request: Request::Json(schema::<SendContacts>),
    errors: SEND_ERRORS,
    ..Endpoint::new(
        Verb::Post,
        "/api/by-number/{phone}/contact",
        "send_contacts_by_number",
        Answer::Json(200, schema::<Sent>),
    )
};

pub fn routes(router: &mut Router) -> BoxedFilter<(Response,)> {
    let location = router
        .route1(&LOCATION)
        .and(body::json_and_value::<SendLocation>())
        .handle(send_location);
    let contacts = router
        .route1(&CONTACTS)
        .and(body::json_and_value::<SendContacts>())
        .handle(send_contacts);
    let location_by_number = router
        .route1(&LOCATION_BY_NUMBER)
        .and(body::json_and_value::<SendLocation>())
        .handle(send_location_by_number);
    let contacts_by_number = router
        .route1(&CONTACTS_BY_NUMBER)
        .and(body::json_and_value::<SendContacts>())
        .handle(send_contacts_by_number);
    location
        .or(contacts)
        .unify()
        .or(location_by_number)
        .unify()
        .or(contacts_by_number)
        .unify()
        .boxed()
}

impl From<Unsendable> for ApiError {
    fn from(e: Unsendable) -> ApiError {
        let code = match e {
            Unsendable::Location(_) => "invalid_location",
            Unsendable::Contact(_) => "invalid_contact",
            Unsendable::Phone(e) => return ApiError::from(e),
        };
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, e.to_string())
    }
}

/// Sends the location `body` asks for now (a direct send, or a queued one when it goes).
pub(super) async fn location(state: &AppState, id: &str, body: SendLocation) -> Result<SentMessage, ApiError> {
    let location = places_and_cards::location(body.latitude, body.longitude, body.name, body.address)?;
    Ok(state.messenger.send_location(id, &body.to, location).await?)
}

/// Sends the cards `body` asks for now (a direct send, or a queued one when it goes).
pub(super) async fn contacts(state: &AppState, id: &str, body: SendContacts) -> Result<SentMessage, ApiError> {
    let cards = places_and_cards::cards(body.contacts)?;
    Ok(state.messenger.send_contacts(id, &body.to, cards).await?)
}

async fn send_location(
    state: AppState,
    id: String,
    body: SendLocation,
    raw: serde_json::Value,
) -> Result<Response, ApiError> {
    if let Some(send_at) = send_queue::queueing(&state, body.queue, body.send_at.as_deref())? {
        places_and_cards::location(body.latitude, body.longitude, body.name.clone(), body.address.clone())?;
        state.messenger.check_sendable(&id, &body.to).await?;
        return send_queue::enqueue(&state, &id, send_queue::LOCATION, raw, send_at).await;
    }
    let sent = location(&state, &id, body).await?;
    Ok(warp::reply::json(&Sent::from(sent)).into_response())
}

async fn send_contacts(
    state: AppState,
    id: String,
    body: SendContacts,
    raw: serde_json::Value,
) -> Result<Response, ApiError> {
    if let Some(send_at) = send_queue::queueing(&state, body.queue, body.send_at.as_deref())? {
        places_and_cards::cards(body.contacts.clone())?;
        state.messenger.check_sendable(&id, &body.to).await?;
        return send_queue::enqueue(&state, &id, send_queue::CONTACT, raw, send_at).await;
    }
    let sent = contacts(&state, &id, body).await?;
    Ok(warp::reply::json(&Sent::from(sent)).into_response())
}

async fn by_number(state: &AppState, number: &str) -> Result<String, ApiError> {
    let number = phone::normalize(number)?;
    Ok(state.instances.find_by_phone(&number).await?)
}

async fn send_location_by_number(
    state: AppState,
    number: String,
    body: SendLocation,
    raw: serde_json::Value,
) -> Result<Response, ApiError> {
    let id = by_number(&state, &number).await?;
    send_location(state, id, body, raw).await
}

async fn send_contacts_by_number(
    state: AppState,
    number: String,
    body: SendContacts,
    raw: serde_json::Value,
) -> Result<Response, ApiError> {
    let id = by_number(&state, &number).await?;
    send_contacts(state, id, body, raw).await
}
