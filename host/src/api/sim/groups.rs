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
use crate::engine::GroupChange;
use crate::engine::sim::{SimGroup, SimGroupState, SimNetwork};

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
    /// The admins among them; the first is the group's creator.
    #[serde(default)]
    admins: Vec<String>,
    /// The group's invite code (`chat.whatsapp.com/<code>`), 1 to 64
    /// letters and digits; a random one when absent.
    #[serde(default)]
    invite_code: Option<String>,
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

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct MemberJoins {
    /// The contact's phone number.
    phone: String,
    /// The group's invite code.
    code: String,
}

#[derive(Serialize, schemars::JsonSchema)]
struct MemberJoined {
    group: String,
    /// `joined`, or `requested` where admins approve joins.
    status: &'static str,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct MemberChanges {
    /// The member making the change (a phone number); settings are an
    /// admin's, as are the subject and description of a locked group.
    author: String,
    subject: Option<String>,
    /// Empty removes it.
    description: Option<String>,
    announce: Option<bool>,
    locked: Option<bool>,
    approval: Option<bool>,
}

#[derive(Serialize, schemars::JsonSchema)]
struct Changed {
    changed: usize,
}

static GET_GROUP: Endpoint = Endpoint {
    tag: TAG,
    summary: "A group of the simulated network as its servers keep it",
    errors: &[422],
    ..Endpoint::new(
        Verb::Get,
        "/sim/groups/{group}",
        "sim_group_state",
        Answer::Json(200, schema::<SimGroupState>),
    )
};
static JOIN: Endpoint = Endpoint {
    tag: TAG,
    summary: "A contact joins a group of the simulated network by its invite code",
    request: Request::Json(schema::<MemberJoins>),
    ..Endpoint::new(
        Verb::Post,
        "/sim/groups/join",
        "sim_group_join",
        Answer::Json(200, schema::<MemberJoined>),
    )
};
static CHANGE: Endpoint = Endpoint {
    tag: TAG,
    summary: "A member changes a group's subject, description or settings; its members hear of it",
    request: Request::Json(schema::<MemberChanges>),
    ..Endpoint::new(
        Verb::Post,
        "/sim/groups/{group}/settings",
        "sim_group_settings",
        Answer::Json(200, schema::<Changed>),
    )
};

pub(super) fn route(router: &mut Router, network: SimNetwork) -> BoxedFilter<(Response,)> {
    let net = warp::any().map(move || network.clone());
    let put = router
        .route0(&PUT_GROUP)
        .and(body::json::<GroupBody>())
        .and(net.clone())
        .handle(put_group);
    let get = router.route1(&GET_GROUP).and(net.clone()).handle(get_group);
    let join = router
        .route0(&JOIN)
        .and(body::json::<MemberJoins>())
        .and(net.clone())
        .handle(member_joins);
    let change = router
        .route1(&CHANGE)
        .and(body::json::<MemberChanges>())
        .and(net)
        .handle(member_changes);
    put.or(get).unify().or(join).unify().or(change).unify().boxed()
}

fn no_group(jid: &str) -> ApiError {
    ApiError::new(
        warp::http::StatusCode::NOT_FOUND,
        "group_not_found",
        format!("the simulated network has no group {jid}"),
    )
}

async fn get_group(_state: AppState, group: String, network: SimNetwork) -> Result<impl Reply, ApiError> {
    let jid = group_jid(&group.replace("%40", "@"))?;
    let state = network.group_state(&jid).ok_or_else(|| no_group(&jid))?;
    Ok(warp::reply::json(&state))
}

async fn member_joins(_state: AppState, body: MemberJoins, network: SimNetwork) -> Result<impl Reply, ApiError> {
    let phone = phone::normalize(&body.phone)?;
    let code = crate::messaging::groups::check_invite_code(&body.code)?;
    let (group, status) = match network.member_joins(&phone, &code).await? {
        crate::engine::Joined::Member(group) => (group, "joined"),
        crate::engine::Joined::Requested(group) => (group, "requested"),
    };
    Ok(warp::reply::json(&MemberJoined { group, status }))
}

async fn member_changes(
    _state: AppState,
    group: String,
    body: MemberChanges,
    network: SimNetwork,
) -> Result<impl Reply, ApiError> {
    let jid = group_jid(&group.replace("%40", "@"))?;
    let author = phone::normalize(&body.author)?;
    let mut changes = Vec::new();
    changes.extend(body.subject.map(GroupChange::Subject));
    changes.extend(
        body.description
            .map(|d| GroupChange::Description(Some(d).filter(|d| !d.is_empty()))),
    );
    changes.extend(body.announce.map(GroupChange::Announce));
    changes.extend(body.locked.map(GroupChange::Locked));
    changes.extend(body.approval.map(GroupChange::Approval));
    let changed = changes.len();
    for change in changes {
        network.member_changes(&jid, &author, change).await?;
    }
    Ok(warp::reply::json(&Changed { changed }))
}

async fn put_group(_state: AppState, body: GroupBody, network: SimNetwork) -> Result<impl Reply, ApiError> {
    let jid = group_jid(&body.jid)?;
    if let Some(code) = &body.invite_code {
        crate::messaging::groups::check_invite_code(code)?;
    }
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
            invite_code: body.invite_code,
        },
    )?;
    Ok(warp::reply::json(&GroupSet { jid, members: count }))
}
