//! `POST /sim/groups`: a group of the simulated network, its name and
//! members (phone numbers), as WhatsApp's servers know it and answer a
//! member's group query (what "mention everyone" reads). Inbound group
//! messages do not need one: they name any group they like.

use serde::{Deserialize, Serialize};
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::{Reply, Response};

use super::super::endpoint::{Answer, Endpoint, Request, Verb, schema};
use super::super::error::ApiError;
use super::super::handler::Handle;
use super::super::router::Router;
use super::super::{AppState, body, phone};
use super::{TAG, group_jid};
use crate::engine::sim::{SimGroup, SimNetwork};

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct GroupBody {
    /// The group's JID (`…@g.us`).
    jid: String,
    /// The group's name.
    #[serde(default)]
    subject: String,
    /// The members' phone numbers (an instance is in the group when its
    /// own number is), at most 1,024.
    members: Vec<String>,
    /// The admins among them.
    #[serde(default)]
    admins: Vec<String>,
}

#[derive(Serialize, schemars::JsonSchema)]
struct GroupSet {
    jid: String,
    members: usize,
}

static PUT_GROUP: Endpoint = Endpoint {
    tag: TAG,
    summary: "Create or replace a group of the simulated network (its name and members)",
    request: Request::Json(schema::<GroupBody>),
    ..Endpoint::new(
        Verb::Post,
        "/sim/groups",
        "sim_group",
        Answer::Json(200, schema::<GroupSet>),
    )
};

pub(super) fn route(router: &mut Router, network: SimNetwork) -> BoxedFilter<(Response,)> {
    let net = warp::any().map(move || network.clone());
    router
        .route0(&PUT_GROUP)
        .and(body::json::<GroupBody>())
        .and(net)
        .handle(put_group)
        .boxed()
}

async fn put_group(_state: AppState, body: GroupBody, network: SimNetwork) -> Result<impl Reply, ApiError> {
    let jid = group_jid(&body.jid)?;
    let numbers = |all: Vec<String>| all.iter().map(|p| phone::normalize(p)).collect::<Result<Vec<_>, _>>();
    let members = numbers(body.members)?;
    let admins = numbers(body.admins)?;
    let count = members.len();
    network.put_group(
        &jid,
        SimGroup {
            subject: body.subject,
            members,
            admins,
        },
    )?;
    Ok(warp::reply::json(&GroupSet { jid, members: count }))
}
