//! Sending a location or contact cards, by instance or by the instance's own
//! number (docs/API.md, "Messages").

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
use crate::engine::{ContactCard, OutgoingLocation};
use crate::messaging::vcard;

/// A place's name or address, at most.
const MAX_PLACE_TEXT_BYTES: usize = 1024;
/// A contact's name, at most.
const MAX_CONTACT_NAME_BYTES: usize = 256;
/// Cards in one contact message, at most.
const MAX_CARDS: usize = 20;

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
    contacts: Vec<CardBody>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct CardBody {
    /// The name shown on the card, at most 256 bytes.
    name: String,
    /// The contact's number (international form); the card is made from
    /// the name and the number. Give this or `vcard`.
    phone: Option<String>,
    /// A whole vCard (`BEGIN:VCARD` … `END:VCARD`, at most 64 KiB), sent as given.
    vcard: Option<String>,
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

fn invalid(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
}

/// An optional name or address: trimmed, empty as absent, bounded.
fn place_text(field: &str, text: Option<String>) -> Result<Option<String>, ApiError> {
    let Some(text) = text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if text.len() > MAX_PLACE_TEXT_BYTES {
        return Err(invalid(
            "invalid_location",
            format!("the {field} holds at most {MAX_PLACE_TEXT_BYTES} bytes"),
        ));
    }
    Ok(Some(text))
}

async fn send_location(state: AppState, id: String, body: SendLocation) -> Result<impl Reply, ApiError> {
    if !(body.latitude.is_finite() && (-90.0..=90.0).contains(&body.latitude)) {
        return Err(invalid(
            "invalid_location",
            "latitude is a number of degrees from -90 to 90",
        ));
    }
    if !(body.longitude.is_finite() && (-180.0..=180.0).contains(&body.longitude)) {
        return Err(invalid(
            "invalid_location",
            "longitude is a number of degrees from -180 to 180",
        ));
    }
    let location = OutgoingLocation {
        latitude: body.latitude,
        longitude: body.longitude,
        name: place_text("name", body.name)?,
        address: place_text("address", body.address)?,
    };
    let sent = state.messenger.send_location(&id, &body.to, location).await?;
    Ok(warp::reply::json(&Sent::from(sent)))
}

fn card(body: CardBody) -> Result<ContactCard, ApiError> {
    let name = body.name.trim();
    if name.is_empty() || name.len() > MAX_CONTACT_NAME_BYTES || name.chars().any(char::is_control) {
        return Err(invalid(
            "invalid_contact",
            format!("a card's name is 1 to {MAX_CONTACT_NAME_BYTES} bytes of text on one line"),
        ));
    }
    let vcard = match (body.vcard, body.phone) {
        (Some(vcard), None) if vcard::is_well_formed(&vcard) => vcard,
        (Some(_), None) => {
            return Err(invalid(
                "invalid_contact",
                format!(
                    "a vcard runs from BEGIN:VCARD to END:VCARD, at most {} bytes",
                    vcard::MAX_VCARD_BYTES
                ),
            ));
        }
        (None, Some(number)) => vcard::for_phone(name, &phone::normalize(&number)?),
        _ => {
            return Err(invalid("invalid_contact", "a card has either a phone or a vcard"));
        }
    };
    Ok(ContactCard {
        display_name: name.to_owned(),
        vcard,
    })
}

async fn send_contacts(state: AppState, id: String, body: SendContacts) -> Result<impl Reply, ApiError> {
    if body.contacts.is_empty() || body.contacts.len() > MAX_CARDS {
        return Err(invalid("invalid_contact", format!("send 1 to {MAX_CARDS} cards")));
    }
    let cards = body.contacts.into_iter().map(card).collect::<Result<Vec<_>, _>>()?;
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
