//! The simulated network's poll vote: a contact votes on a poll the instance
//! sent (`POST /sim/instances/{id}/poll-vote`, admin token, `--engine sim`
//! only; docs/API.md, "Simulated WhatsApp"). The vote is tallied by the same
//! code as on the real engine, which decrypts it first.

use serde::{Deserialize, Serialize};
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use super::endpoint::{Answer, Endpoint, Request, Verb, schema};
use super::error::ApiError;
use super::handler::Handle;
use super::router::Router;
use super::sim::{check, contact_jid, group_jid};
use super::{AppState, body};
use crate::engine::sim::{SimNetwork, new_message_id};
use crate::messaging::polls::MAX_OPTIONS;
use crate::polls::Ballot;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct PollVoteBody {
    /// The voter: a phone number or a JID.
    from: String,
    /// The id of the poll (the instance's send answer's `message_id`).
    poll_id: String,
    /// The options picked, by name (at most 12); empty withdraws the vote.
    options: Vec<String>,
    /// The group the poll was sent to, when it was (`…@g.us`).
    group: Option<String>,
    /// The voter's display name.
    push_name: Option<String>,
}

#[derive(Serialize, schemars::JsonSchema)]
struct Voted {
    /// The id of the vote message.
    message_id: String,
}

static POLL_VOTE: Endpoint = Endpoint {
    tag: "simulator",
    summary: "A contact votes on a poll the instance sent (or changes or withdraws the vote)",
    request: Request::Json(schema::<PollVoteBody>),
    errors: &[409],
    ..Endpoint::new(
        Verb::Post,
        "/sim/instances/{id}/poll-vote",
        "sim_poll_vote",
        Answer::Json(200, schema::<Voted>),
    )
};

pub fn routes(router: &mut Router, network: SimNetwork) -> BoxedFilter<(Response,)> {
    let net = warp::any().map(move || network.clone());
    router
        .route1(&POLL_VOTE)
        .and(body::json::<PollVoteBody>())
        .and(net)
        .handle(poll_vote)
        .boxed()
}

fn invalid_vote(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_vote", message)
}

async fn poll_vote(
    state: AppState,
    id: String,
    body: PollVoteBody,
    network: SimNetwork,
) -> Result<impl Reply, ApiError> {
    check(&state, &id)?;
    let voter = contact_jid(&body.from)?;
    let chat = match &body.group {
        Some(group) => group_jid(group)?,
        None => voter.clone(),
    };
    if body.options.len() > MAX_OPTIONS {
        return Err(invalid_vote(format!("a vote picks at most {MAX_OPTIONS} options")));
    }
    // A phone offers only the poll's options. A poll the instance does not
    // keep is voted on all the same: that vote is reported as unreadable.
    let poll = state
        .store
        .find_poll(&id, &body.poll_id)
        .await
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "storage_unavailable", e.to_string()))?;
    if let Some(poll) = poll
        && let Some(stranger) = body.options.iter().find(|o| !poll.options.contains(o))
    {
        return Err(invalid_vote(format!("{stranger:?} is not an option of the poll")));
    }
    let message_id = new_message_id();
    let ballot = Ballot {
        id: message_id.clone(),
        poll_id: body.poll_id,
        is_group: body.group.is_some(),
        chat,
        voter,
        voter_lid: None,
        push_name: body.push_name.filter(|n| !n.trim().is_empty()),
        voted_at_ms: crate::clock::now_ms(),
        selected: body.options,
    };
    network.poll_vote(&id, ballot).await?;
    Ok(warp::reply::json(&Voted { message_id }))
}
