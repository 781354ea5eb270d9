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
use super::{AppState, body, phone};
use crate::messaging::places_and_cards::{self, CardRequest, Unsendable};

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct SendLocation {
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
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct SendContacts {
    /// A phone number in international form without `+`, or a JID.
    to: String,
    /// 1 to 20 cards, sent as one message.
    contacts: Vec<CardRequest>,
}

static LOCATION: Endpoint = Endpoint {
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
        .and(body::json::<SendLocation>())
        .handle(send_location);
    let contacts = router
        .route1(&CONTACTS)
        .and(body::json::<SendContacts>())
        .handle(send_contacts);
    let location_by_number = router
        .route1(&LOCATION_BY_NUMBER)
        .and(body::json::<SendLocation>())
        .handle(send_location_by_number);
    let contacts_by_number = router
        .route1(&CONTACTS_BY_NUMBER)
        .and(body::json::<SendContacts>())
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

async fn send_location(state: AppState, id: String, body: SendLocation) -> Result<impl Reply, ApiError> {
    let location = places_and_cards::location(body.latitude, body.longitude, body.name, body.address)?;
    let sent = state.messenger.send_location(&id, &body.to, location).await?;
    Ok(warp::reply::json(&Sent::from(sent)))
}

async fn send_contacts(state: AppState, id: String, body: SendContacts) -> Result<impl Reply, ApiError> {
    let cards = places_and_cards::cards(body.contacts)?;
    let sent = state.messenger.send_contacts(&id, &body.to, cards).await?;
    Ok(warp::reply::json(&Sent::from(sent)))
}

/// The instance whose own number is `number`.
async fn by_number(state: &AppState, number: &str) -> Result<String, ApiError> {
    let number = phone::normalize(number)?;
    Ok(state.instances.find_by_phone(&number).await?)
}

async fn send_location_by_number(state: AppState, number: String, body: SendLocation) -> Result<Response, ApiError> {
    let id = by_number(&state, &number).await?;
    send_location(state, id, body).await.map(Reply::into_response)
}

async fn send_contacts_by_number(state: AppState, number: String, body: SendContacts) -> Result<Response, ApiError> {
    let id = by_number(&state, &number).await?;
    send_contacts(state, id, body).await.map(Reply::into_response)
}
