//! `POST /sim/instances/{id}/address-book`: the phone linked to the instance
//! syncs contacts from its address book, as WhatsApp's contact sync brings
//! them to the real engine; the instance's contact list learns their names.

use std::convert::Infallible;

use serde::{Deserialize, Serialize};
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::{Reply, Response};

use super::super::endpoint::{Answer, Endpoint, Request, Verb, schema};
use super::super::error::ApiError;
use super::super::handler::Handle;
use super::super::router::Router;
use super::super::{AppState, body, phone};
use super::{CONFLICT, TAG, check};
use crate::engine::sim::{MAX_SYNCED_CONTACTS, SavedContact, SimError, SimNetwork};
use crate::instances::address_book::MAX_NAME_CHARS;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct AddressBookBody {
    /// 1 to 1000 contacts.
    contacts: Vec<SavedContactBody>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct SavedContactBody {
    /// The contact's phone number.
    phone: String,
    /// The full name in the address book (kept as the contact's `name`).
    name: Option<String>,
    /// The first name (kept as the contact's `name` when there is no full name).
    first_name: Option<String>,
}

#[derive(Serialize, schemars::JsonSchema)]
struct Synced {
    /// How many contacts the sync carried.
    synced: usize,
}

static ADDRESS_BOOK: Endpoint = Endpoint {
    tag: TAG,
    summary: "The linked phone syncs contacts from its address book: the contact list learns their names",
    request: Request::Json(schema::<AddressBookBody>),
    errors: CONFLICT,
    ..Endpoint::new(
        Verb::Post,
        "/sim/instances/{id}/address-book",
        "sim_address_book",
        Answer::Json(200, schema::<Synced>),
    )
};

/// The route, given the filter that hands out the network (`sim::routes`'s).
pub(super) fn route<N>(router: &mut Router, net: N) -> BoxedFilter<(Response,)>
where
    N: Filter<Extract = (SimNetwork,), Error = Infallible> + Clone + Send + Sync + 'static,
{
    router
        .route1(&ADDRESS_BOOK)
        .and(body::json::<AddressBookBody>())
        .and(net)
        .handle(address_book)
        .boxed()
}

async fn address_book(
    state: AppState,
    id: String,
    body: AddressBookBody,
    network: SimNetwork,
) -> Result<impl Reply, ApiError> {
    check(&state, &id)?;
    if body.contacts.is_empty() || body.contacts.len() > MAX_SYNCED_CONTACTS {
        return Err(SimError::Invalid(format!("a contact sync carries 1 to {MAX_SYNCED_CONTACTS} contacts")).into());
    }
    let mut contacts = Vec::with_capacity(body.contacts.len());
    for c in body.contacts {
        let full_name = name(c.name, "name")?;
        let first_name = name(c.first_name, "first_name")?;
        if full_name.is_none() && first_name.is_none() {
            return Err(SimError::Invalid(format!("contact {} has neither a name nor a first_name", c.phone)).into());
        }
        contacts.push(SavedContact {
            phone: phone::normalize(&c.phone)?,
            full_name,
            first_name,
        });
    }
    let synced = contacts.len();
    network.sync_address_book(&id, contacts).await?;
    Ok(warp::reply::json(&Synced { synced }))
}

/// A name as given, when there is one: not blank, one line, at most
/// [`MAX_NAME_CHARS`] characters.
fn name(raw: Option<String>, field: &str) -> Result<Option<String>, SimError> {
    let Some(raw) = raw else { return Ok(None) };
    if raw.trim().is_empty() || raw.chars().count() > MAX_NAME_CHARS || raw.chars().any(char::is_control) {
        return Err(SimError::Invalid(format!(
            "a contact's {field} is 1 to {MAX_NAME_CHARS} characters on one line, not blank"
        )));
    }
    Ok(Some(raw))
}
