//! An instance's journalled events, for clients that replay what they missed
//! (docs/API.md, "Replay"): `GET /api/instances/{id}/events?after=&limit=`,
//! and the cursor rules the WebSocket routes' `?after=` shares.
//!
//! A cursor is the decimal journal seq of the last event a client has, as
//! frames and this route hand it out. One that is older than what the
//! journal's retention kept (entries after it were pruned) is answered 410
//! `cursor_expired`, never with a silent gap.

use serde::{Deserialize, Serialize};
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use super::AppState;
use super::endpoint::{Access, Answer, Endpoint, QueryParam, Verb, schema};
use super::error::ApiError;
use super::handler::Handle;
use super::router::Router;
use crate::events::Event;
use crate::store::Store;

/// Events answered when the query does not say.
const DEFAULT_LIMIT: u32 = 100;
/// Events answered at most.
const MAX_LIMIT: u32 = 1000;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventsQuery {
    after: Option<String>,
    limit: Option<u32>,
}

/// One journalled event.
#[derive(Serialize, schemars::JsonSchema)]
struct JournalItem {
    /// Its cursor: `after=` this continues behind it.
    cursor: String,
    /// The event in its canonical JSON shape.
    #[schemars(with = "CanonicalEvent")]
    event: Event,
}

/// The canonical JSON shape of an event (`wasap-events`, `model`), for the
/// OpenAPI document.
#[derive(schemars::JsonSchema)]
#[allow(dead_code)]
struct CanonicalEvent {
    /// Stable: a repeat of the event carries the same id (`X-Wasap-Event-Id`).
    id: String,
    instance_id: String,
    /// When it happened, unix microseconds.
    at_us: i64,
    kind: CanonicalKind,
}

/// What happened: the kind's name and its fields.
#[derive(schemars::JsonSchema)]
#[allow(dead_code)]
struct CanonicalKind {
    /// `message`, `message_undecryptable`, `receipt`, `group_participants`, ...
    #[schemars(rename = "type")]
    kind: String,
    data: serde_json::Value,
}

/// A page of an instance's journalled events.
#[derive(Serialize, schemars::JsonSchema)]
struct JournalPage {
    instance_id: String,
    /// Oldest first, at most `limit`.
    events: Vec<JournalItem>,
    /// The cursor to ask with next (`after=`): the last event's, or the one
    /// asked with when there was none.
    next_cursor: String,
    /// Whether more events follow right now.
    has_more: bool,
}

const TAG: &str = "events";

static LIST: Endpoint = Endpoint {
    tag: TAG,
    summary: "The instance's journalled incoming events (messages, undecryptable messages, receipts, group events), oldest first, \
              after a cursor; 410 cursor_expired when the journal's retention removed events after it",
    access: Access::Instance,
    query: &[
        QueryParam {
            name: "after",
            description: "A cursor (from a frame, an event here or next_cursor): only events after it; \
                          absent: from the oldest event kept",
            values: &[],
        },
        QueryParam {
            name: "limit",
            description: "How many at most (1 to 1000, default 100)",
            values: &[],
        },
    ],
    errors: &[410],
    ..Endpoint::new(
        Verb::Get,
        "/api/instances/{id}/events",
        "list_instance_events",
        Answer::Json(200, schema::<JournalPage>),
    )
};

pub fn routes(router: &mut Router) -> BoxedFilter<(Response,)> {
    router
        .route1(&LIST)
        .and(warp::query::<EventsQuery>())
        .handle(list)
        .boxed()
}

async fn list(state: AppState, id: String, query: EventsQuery) -> Result<impl Reply, ApiError> {
    state.instances.status(&id)?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            format!("limit must be between 1 and {MAX_LIMIT}"),
        ));
    }
    let after = match query.after.as_deref().filter(|a| !a.is_empty()) {
        Some(after) => Some(parse_cursor(after)?),
        None => None,
    };
    // Without a cursor, from the oldest entry kept: behind what was pruned.
    let from = match after {
        Some(after) => after,
        None => state.store.journal_horizon(Some(&id)).await?,
    };
    // One more than asked for tells whether more follow.
    let mut read = state.store.journal_read(Some(&id), from, i64::from(limit) + 1).await?;
    if after.is_some() {
        check_cursor(&state.store, Some(&id), from).await?;
    }
    let has_more = read.rows_read > limit as usize;
    let next = match read.last_seq {
        // The extra row read is the first of the next page: everything before it is answered.
        Some(extra) if has_more => {
            read.entries.retain(|entry| entry.seq < extra);
            read.entries.last().map_or(extra - 1, |entry| entry.seq)
        }
        Some(last) => last,
        None => from,
    };
    Ok(warp::reply::json(&JournalPage {
        instance_id: id,
        next_cursor: next.to_string(),
        has_more,
        events: read
            .entries
            .into_iter()
            .map(|entry| JournalItem {
                cursor: entry.seq.to_string(),
                event: entry.event,
            })
            .collect(),
    }))
}

/// The seq a cursor names; 400 `invalid_cursor` for anything but one.
pub(super) fn parse_cursor(cursor: &str) -> Result<i64, ApiError> {
    cursor
        .parse::<i64>()
        .ok()
        .filter(|seq| *seq >= 0 && cursor.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_cursor",
                format!("{cursor:?} is not a cursor: use one from a frame, an event or next_cursor"),
            )
        })
}

/// 410 `cursor_expired` when the journal's retention removed entries after
/// `after` (of instance `instance`, or of any instance with `None`).
pub(super) async fn check_cursor(store: &Store, instance: Option<&str>, after: i64) -> Result<(), ApiError> {
    let horizon = store.journal_horizon(instance).await?;
    if after < horizon {
        return Err(ApiError::new(
            StatusCode::GONE,
            "cursor_expired",
            format!(
                "events after cursor {after} were removed by the journal's retention (kept: after {horizon}); \
                 start again without a cursor"
            ),
        ));
    }
    Ok(())
}
