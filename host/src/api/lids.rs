//! Looking up both names of accounts, a LID's phone number and a phone
//! number's LID, one or a batch (docs/API.md, "Phone numbers and LIDs"). The
//! lookup is `messaging::lids`'; here its errors get their codes.

use serde::{Deserialize, Serialize};
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use super::AppState;
use super::body;
use super::endpoint::{Access, Answer, Endpoint, QueryParam, Request, Verb, schema};
use super::error::ApiError;
use super::handler::Handle;
use super::router::Router;
use crate::engine::lids::LidPair;
use crate::messaging::lids::{LidLookupError, MAX_LOOKUPS, parse_lid, parse_name, parse_phone};

/// `?lid=` or `?phone=`: exactly one.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LookupQuery {
    lid: Option<String>,
    phone: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct LookupBatch {
    /// 1 to 100 names: a LID (`digits@lid`) or a phone number (international form,
    /// or a `…@s.whatsapp.net` JID).
    items: Vec<String>,
}

/// Both names of one account.
#[derive(Debug, Serialize, schemars::JsonSchema)]
struct Pair {
    /// The LID JID, `digits@lid`.
    lid: String,
    /// The phone number, international form without `+`.
    phone: String,
    /// The phone-number JID, `phone@s.whatsapp.net`.
    phone_jid: String,
}

impl From<LidPair> for Pair {
    fn from(pair: LidPair) -> Pair {
        Pair {
            phone_jid: pair.phone_jid(),
            lid: pair.lid,
            phone: pair.phone,
        }
    }
}

/// One item of a batch answer.
#[derive(Debug, Serialize, schemars::JsonSchema)]
struct BatchItem {
    /// The item as asked.
    query: String,
    /// Whether the instance knows both names of this account.
    known: bool,
    /// The LID JID, or null when unknown.
    lid: Option<String>,
    /// The phone number, or null when unknown.
    phone: Option<String>,
    /// The phone-number JID, or null when unknown.
    phone_jid: Option<String>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
struct BatchAnswer {
    /// One per item, in the order asked.
    results: Vec<BatchItem>,
}

const TAG: &str = "lids";

static LOOKUP: Endpoint = Endpoint {
    tag: TAG,
    summary: "The phone number behind a LID (?lid=), or the LID of a phone number (?phone=), as the instance knows them; 404 lid_unknown when it does not",
    access: Access::Instance,
    query: &[
        QueryParam {
            name: "lid",
            description: "A LID, `digits@lid` or its digits",
            values: &[],
        },
        QueryParam {
            name: "phone",
            description: "A phone number, international form (or a `…@s.whatsapp.net` JID)",
            values: &[],
        },
    ],
    errors: &[404, 422, 503],
    ..Endpoint::new(
        Verb::Get,
        "/api/lids/{id}",
        "lid_lookup",
        Answer::Json(200, schema::<Pair>),
    )
};
static LOOKUP_BATCH: Endpoint = Endpoint {
    tag: TAG,
    summary: "Both names of up to 100 accounts (LIDs or phone numbers), as the instance knows them; null where it does not",
    access: Access::Instance,
    request: Request::Json(schema::<LookupBatch>),
    errors: &[404, 503],
    ..Endpoint::new(
        Verb::Post,
        "/api/lids/{id}",
        "lid_lookup_batch",
        Answer::Json(200, schema::<BatchAnswer>),
    )
};

pub fn routes(router: &mut Router) -> BoxedFilter<(Response,)> {
    let lookup = router.route1(&LOOKUP).and(warp::query::<LookupQuery>()).handle(lookup);
    let batch = router
        .route1(&LOOKUP_BATCH)
        .and(body::json::<LookupBatch>())
        .handle(lookup_batch);
    lookup.or(batch).unify().boxed()
}

impl From<LidLookupError> for ApiError {
    fn from(e: LidLookupError) -> ApiError {
        let code = match e {
            LidLookupError::InvalidLid(_) => "invalid_lid",
            LidLookupError::InvalidPhone(_) => "invalid_phone",
            LidLookupError::Count => "invalid_items",
            LidLookupError::Instance(e) => return e.into(),
            LidLookupError::Engine(e) => return e.into(),
        };
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, e.to_string())
    }
}

async fn lookup(state: AppState, id: String, query: LookupQuery) -> Result<impl Reply, ApiError> {
    state.instances.status(&id)?;
    let name = match (query.lid.as_deref(), query.phone.as_deref()) {
        (Some(lid), None) => parse_lid(lid)?,
        (None, Some(phone)) => parse_phone(phone)?,
        _ => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_query",
                "give exactly one of ?lid= and ?phone=",
            ));
        }
    };
    let pair = state.messenger.lid_pairs(&id, &[name]).await?.pop().flatten();
    let pair = pair.ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "lid_unknown",
            "the instance does not know this account's other name",
        )
    })?;
    Ok(warp::reply::json(&Pair::from(pair)))
}

async fn lookup_batch(state: AppState, id: String, body: LookupBatch) -> Result<impl Reply, ApiError> {
    state.instances.status(&id)?;
    if body.items.is_empty() || body.items.len() > MAX_LOOKUPS {
        return Err(LidLookupError::Count.into());
    }
    let names = body
        .items
        .iter()
        .map(|item| parse_name(item))
        .collect::<Result<Vec<_>, _>>()?;
    let pairs = state.messenger.lid_pairs(&id, &names).await?;
    let results = body
        .items
        .into_iter()
        .zip(pairs)
        .map(|(query, pair)| BatchItem {
            query,
            known: pair.is_some(),
            phone_jid: pair.as_ref().map(LidPair::phone_jid),
            lid: pair.as_ref().map(|p| p.lid.clone()),
            phone: pair.map(|p| p.phone),
        })
        .collect();
    Ok(warp::reply::json(&BatchAnswer { results }))
}
