//! Contacts of an instance (docs/API.md, "Contacts"): the contacts it knows,
//! as JSON pages or one CSV file, a contact's profile, and blocking. The
//! checks are `messaging::contacts`', shared with the plugins; here they
//! get their codes.

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
use crate::engine::{BlockedContact, ContactProfile};
use crate::messaging::RecipientError;
use crate::messaging::contacts::ContactsError;
use crate::store::contacts::StoredContact;

const TAG: &str = "contacts";
/// What a route that asks WhatsApp can answer beyond the usual.
const LIVE_ERRORS: &[u16] = &[422, 503];

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PageQuery {
    after: Option<String>,
    limit: Option<u32>,
}

/// A contact the instance knows.
#[derive(Serialize, schemars::JsonSchema)]
pub(super) struct Contact {
    /// The contact's JID without device: `<phone>@s.whatsapp.net`, or `<lid>@lid`
    /// when only the LID is known.
    jid: String,
    /// The phone number (international form without `+`), when known.
    phone: Option<String>,
    /// The contact's LID (`…@lid`), when known.
    lid: Option<String>,
    /// The display name the contact's last message carried.
    push_name: Option<String>,
    /// The name in the linked phone's address book, from WhatsApp's contact sync
    /// (on the sim engine, `/sim/instances/{id}/address-book`).
    name: Option<String>,
    /// When the instance first learnt of the contact, from its first message or the
    /// contact sync (RFC 3339).
    first_seen: String,
    /// When the instance last heard from the contact (RFC 3339), to the hour; for a
    /// contact known only from the contact sync, when it was synced.
    last_seen: String,
}

impl From<StoredContact> for Contact {
    fn from(c: StoredContact) -> Contact {
        Contact {
            jid: c.jid,
            phone: c.phone,
            lid: c.lid,
            push_name: c.push_name,
            name: c.name,
            first_seen: crate::clock::rfc3339(c.first_seen),
            last_seen: crate::clock::rfc3339(c.last_seen),
        }
    }
}

#[derive(Serialize, schemars::JsonSchema)]
struct ContactList {
    contacts: Vec<Contact>,
    /// The cursor of the next page (`after=`); `null` on the last page.
    next: Option<String>,
}

/// A contact's profile picture.
#[derive(Serialize, schemars::JsonSchema)]
pub(super) struct Picture {
    /// WhatsApp's id of the picture: it changes when the picture does.
    id: String,
    /// Where to download it (WhatsApp's URL, valid for a while).
    url: Option<String>,
}

impl From<crate::engine::ProfilePicture> for Picture {
    fn from(p: crate::engine::ProfilePicture) -> Picture {
        Picture { id: p.id, url: p.url }
    }
}

pub(super) fn picture(p: Option<crate::engine::ProfilePicture>) -> Option<Picture> {
    p.map(Picture::from)
}

#[derive(Serialize, schemars::JsonSchema)]
struct Profile {
    jid: String,
    /// The contact's LID, when WhatsApp told it.
    lid: Option<String>,
    /// `null` when there is none or the contact's privacy settings hide it.
    picture: Option<Picture>,
    /// The about text; `null` when there is none or it is hidden.
    about: Option<String>,
}

impl From<ContactProfile> for Profile {
    fn from(p: ContactProfile) -> Profile {
        Profile {
            jid: p.jid,
            lid: p.lid,
            picture: picture(p.picture),
            about: p.about,
        }
    }
}

#[derive(Serialize, schemars::JsonSchema)]
struct Blocked {
    /// The contact's phone-number JID when known, else the JID WhatsApp listed.
    jid: String,
    lid: Option<String>,
}

#[derive(Serialize, schemars::JsonSchema)]
struct Blocklist {
    blocked: Vec<Blocked>,
}

#[derive(Serialize, schemars::JsonSchema)]
struct BlockChanged {
    jid: String,
    blocked: bool,
}

static LIST: Endpoint = Endpoint {
    tag: TAG,
    summary: "The contacts the instance knows (senders of its incoming messages, contact sync), by JID, in pages",
    access: Access::Instance,
    query: &[
        QueryParam {
            name: "after",
            description: "The `next` of the previous page: only contacts after it",
            values: &[],
        },
        QueryParam {
            name: "limit",
            description: "How many at most (1 to 1000, default 100)",
            values: &[],
        },
    ],
    ..Endpoint::new(
        Verb::Get,
        "/api/contacts/{id}",
        "list_contacts",
        Answer::Json(200, schema::<ContactList>),
    )
};
static EXPORT: Endpoint = Endpoint {
    tag: TAG,
    summary: "Every contact the instance knows, as one CSV file",
    access: Access::Instance,
    ..Endpoint::new(
        Verb::Get,
        "/api/contacts/{id}/export.csv",
        "export_contacts",
        Answer::Text("text/csv; charset=utf-8"),
    )
};
static PROFILE: Endpoint = Endpoint {
    tag: TAG,
    summary: "A contact's profile picture and about text, asked of WhatsApp",
    access: Access::Instance,
    errors: LIVE_ERRORS,
    ..Endpoint::new(
        Verb::Get,
        "/api/contacts/{id}/{contact}/profile",
        "contact_profile",
        Answer::Json(200, schema::<Profile>),
    )
};
static BLOCK: Endpoint = Endpoint {
    tag: TAG,
    summary: "Block a contact",
    access: Access::Instance,
    errors: LIVE_ERRORS,
    ..Endpoint::new(
        Verb::Post,
        "/api/contacts/{id}/{contact}/block",
        "block_contact",
        Answer::Json(200, schema::<BlockChanged>),
    )
};
static UNBLOCK: Endpoint = Endpoint {
    tag: TAG,
    summary: "Unblock a contact",
    access: Access::Instance,
    errors: LIVE_ERRORS,
    ..Endpoint::new(
        Verb::Post,
        "/api/contacts/{id}/{contact}/unblock",
        "unblock_contact",
        Answer::Json(200, schema::<BlockChanged>),
    )
};
static BLOCKLIST: Endpoint = Endpoint {
    tag: TAG,
    summary: "The contacts the instance's account has blocked, asked of WhatsApp",
    access: Access::Instance,
    errors: &[503],
    ..Endpoint::new(
        Verb::Get,
        "/api/contacts/{id}/blocklist",
        "blocklist",
        Answer::Json(200, schema::<Blocklist>),
    )
};

pub fn routes(router: &mut Router) -> BoxedFilter<(Response,)> {
    let list = router.route1(&LIST).and(warp::query::<PageQuery>()).handle(list);
    let export = router.route1(&EXPORT).handle(export);
    let blocklist = router.route1(&BLOCKLIST).handle(blocklist);
    let profile = router.route2(&PROFILE).handle(profile);
    let block = router.route2(&BLOCK).handle(block);
    let unblock = router.route2(&UNBLOCK).handle(unblock);
    list.or(export)
        .unify()
        .or(blocklist)
        .unify()
        .or(profile)
        .unify()
        .or(block)
        .unify()
        .or(unblock)
        .unify()
        .boxed()
}

impl From<ContactsError> for ApiError {
    fn from(e: ContactsError) -> ApiError {
        let message = e.to_string();
        let (status, code) = match e {
            ContactsError::Recipient(RecipientError::InvalidPhone(_)) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "invalid_phone")
            }
            ContactsError::Recipient(RecipientError::InvalidJid(_)) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "invalid_jid")
            }
            ContactsError::NotOnWhatsapp(_) => (StatusCode::NOT_FOUND, "contact_not_on_whatsapp"),
            ContactsError::InvalidLimit => (StatusCode::BAD_REQUEST, "invalid_query"),
            ContactsError::InvalidProfile(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_profile"),
            ContactsError::NotJpeg => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_image"),
            ContactsError::PhotoTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "photo_too_large"),
            ContactsError::UnknownPrivacySetting(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unknown_privacy_setting"),
            ContactsError::InvalidPrivacyValue { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_privacy_value"),
            ContactsError::Instance(e) => return e.into(),
            ContactsError::Engine(e) => return e.into(),
            ContactsError::Store(e) => return e.into(),
        };
        ApiError::new(status, code, message)
    }
}

async fn list(state: AppState, id: String, query: PageQuery) -> Result<impl Reply, ApiError> {
    let after = query.after.as_deref().filter(|a| !a.is_empty());
    let page = state.messenger.contacts(&id, after, query.limit).await?;
    Ok(warp::reply::json(&ContactList {
        contacts: page.contacts.into_iter().map(Contact::from).collect(),
        next: page.next,
    }))
}

async fn export(state: AppState, id: String) -> Result<Response, ApiError> {
    let csv = state.messenger.contacts_csv(&id).await?;
    let file: String = id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    let reply = warp::reply::with_header(csv, "content-type", "text/csv; charset=utf-8");
    let reply = warp::reply::with_header(
        reply,
        "content-disposition",
        format!("attachment; filename=\"contacts-{file}.csv\""),
    );
    Ok(reply.into_response())
}

async fn profile(state: AppState, id: String, contact: String) -> Result<impl Reply, ApiError> {
    let profile = state.messenger.contact_profile(&id, &contact).await?;
    Ok(warp::reply::json(&Profile::from(profile)))
}

async fn block(state: AppState, id: String, contact: String) -> Result<impl Reply, ApiError> {
    let jid = state.messenger.set_blocked(&id, &contact, true).await?;
    Ok(warp::reply::json(&BlockChanged { jid, blocked: true }))
}

async fn unblock(state: AppState, id: String, contact: String) -> Result<impl Reply, ApiError> {
    let jid = state.messenger.set_blocked(&id, &contact, false).await?;
    Ok(warp::reply::json(&BlockChanged { jid, blocked: false }))
}

async fn blocklist(state: AppState, id: String) -> Result<impl Reply, ApiError> {
    let blocked = state.messenger.blocklist(&id).await?;
    Ok(warp::reply::json(&Blocklist {
        blocked: blocked
            .into_iter()
            .map(|BlockedContact { jid, lid }| Blocked { jid, lid })
            .collect(),
    }))
}
