//! The simulated network's profiles: `POST /sim/contacts/{phone}/profile`
//! sets a contact's about and picture, `GET /sim/instances/{id}/account`
//! shows what the network recorded of the instance's own account (about,
//! photo, blocklist, privacy settings).

use std::convert::Infallible;

use serde::{Deserialize, Serialize};
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use super::super::endpoint::{Answer, Endpoint, Request, Verb, schema};
use super::super::error::ApiError;
use super::super::handler::Handle;
use super::super::router::Router;
use super::super::{AppState, body, phone};
use super::{CONFLICT, TAG, check};
use crate::engine::sim::{SimAccount, SimNetwork};

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct ProfileBody {
    /// The contact's about text, at most 139 characters.
    about: Option<String>,
    /// `true`: the contact gets a new profile picture; `false`: it has none.
    picture: Option<bool>,
}

#[derive(Serialize, schemars::JsonSchema)]
struct ContactProfileSet {
    about: Option<String>,
    /// The id of the contact's picture, as the profile route will show it.
    picture_id: Option<String>,
}

static CONTACT_PROFILE: Endpoint = Endpoint {
    tag: TAG,
    summary: "Set a contact's about text and profile picture",
    request: Request::Json(schema::<ProfileBody>),
    ..Endpoint::new(
        Verb::Post,
        "/sim/contacts/{phone}/profile",
        "sim_contact_profile",
        Answer::Json(200, schema::<ContactProfileSet>),
    )
};
static ACCOUNT: Endpoint = Endpoint {
    tag: TAG,
    summary: "What the simulated network keeps of the instance's account: about, photo, blocklist, privacy",
    errors: CONFLICT,
    ..Endpoint::new(
        Verb::Get,
        "/sim/instances/{id}/account",
        "sim_account",
        Answer::Json(200, schema::<SimAccount>),
    )
};

/// The routes, given the filter that hands out the network (`sim::routes`'s).
pub(super) fn routes<N>(router: &mut Router, net: N) -> BoxedFilter<(Response,)>
where
    N: Filter<Extract = (SimNetwork,), Error = Infallible> + Clone + Send + Sync + 'static,
{
    let contact = router
        .route1(&CONTACT_PROFILE)
        .and(body::json::<ProfileBody>())
        .and(net.clone())
        .handle(contact_profile);
    let account = router.route1(&ACCOUNT).and(net).handle(account);
    contact.or(account).unify().boxed()
}

async fn contact_profile(
    _state: AppState,
    number: String,
    body: ProfileBody,
    network: SimNetwork,
) -> Result<impl Reply, ApiError> {
    let number = phone::normalize(&number)?;
    if body.about.as_ref().is_some_and(|a| a.chars().count() > 139) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            "about has at most 139 characters",
        ));
    }
    let account = network.set_contact_profile(&number, body.about, body.picture)?;
    Ok(warp::reply::json(&ContactProfileSet {
        about: account.about,
        picture_id: account.picture_id,
    }))
}

async fn account(state: AppState, id: String, network: SimNetwork) -> Result<impl Reply, ApiError> {
    check(&state, &id)?;
    let phone = state.instances.get(&id).await?.phone_number.ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "instance_not_connected",
            format!("{id} is not linked to an account"),
        )
    })?;
    Ok(warp::reply::json(&network.account(&phone)))
}
