//! The instance's own profile and privacy settings (docs/API.md, "Profile and
//! privacy"): push name, about and photo, read and changed through WhatsApp.
//! The checks are `messaging::contacts`'; here they get their codes.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use super::base64_data::{self, Base64Error};
use super::contacts::{Picture, picture};
use super::endpoint::{Access, Answer, Endpoint, Request, Verb, schema};
use super::error::ApiError;
use super::handler::Handle;
use super::router::Router;
use super::{AppState, body};
use crate::engine::{OwnProfile, PrivacySetting};
use crate::messaging::contacts::{MAX_PHOTO_BYTES, ProfileChange};

const TAG: &str = "profile";
const LIVE_ERRORS: &[u16] = &[503];
/// The body of a photo upload, at most: the photo in base64 and the JSON around it.
const MAX_PHOTO_BODY: u64 = base64_data::encoded_len(MAX_PHOTO_BYTES) + 1024;

#[derive(Serialize, schemars::JsonSchema)]
struct Profile {
    /// The account's JID.
    jid: String,
    push_name: String,
    about: Option<String>,
    picture: Option<Picture>,
}

impl From<OwnProfile> for Profile {
    fn from(p: OwnProfile) -> Profile {
        Profile {
            jid: p.jid,
            push_name: p.push_name,
            about: p.about,
            picture: picture(p.picture),
        }
    }
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct ProfilePatch {
    /// The name others see with the account's messages: 1 to 25 characters.
    push_name: Option<String>,
    /// The about text: 1 to 139 characters.
    about: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct PhotoBody {
    /// The JPEG image, in base64 or as a `data:image/jpeg;base64,…` URL, at most 1 MiB decoded.
    image: String,
}

#[derive(Serialize, schemars::JsonSchema)]
struct PhotoChanged {
    /// WhatsApp's id of the new picture; `null` once removed.
    picture_id: Option<String>,
}

/// The account's privacy settings, by name, as WhatsApp has them. Values:
/// `all`, `contacts`, `contact_blacklist` (my contacts except…, read only),
/// `none`, `match_last_seen` (online), `known` (calls_add).
#[derive(Serialize, schemars::JsonSchema)]
struct Privacy {
    last_seen: Option<String>,
    online: Option<String>,
    profile_photo: Option<String>,
    about: Option<String>,
    groups_add: Option<String>,
    read_receipts: Option<String>,
    calls_add: Option<String>,
    messages: Option<String>,
}

impl From<Vec<PrivacySetting>> for Privacy {
    fn from(settings: Vec<PrivacySetting>) -> Privacy {
        let get = |name: &str| {
            settings
                .iter()
                .find(|s| s.category.name() == name)
                .map(|s| s.value.clone())
        };
        Privacy {
            last_seen: get("last_seen"),
            online: get("online"),
            profile_photo: get("profile_photo"),
            about: get("about"),
            groups_add: get("groups_add"),
            read_receipts: get("read_receipts"),
            calls_add: get("calls_add"),
            messages: get("messages"),
        }
    }
}

/// Privacy settings to change: a setting's name and its new value, e.g.
/// `{"last_seen": "contacts", "read_receipts": "none"}`.
type PrivacyPatch = BTreeMap<String, String>;

static GET_PROFILE: Endpoint = Endpoint {
    tag: TAG,
    summary: "The account's own push name, about and photo",
    access: Access::Instance,
    errors: LIVE_ERRORS,
    ..Endpoint::new(
        Verb::Get,
        "/api/instances/{id}/profile",
        "get_profile",
        Answer::Json(200, schema::<Profile>),
    )
};
static PATCH_PROFILE: Endpoint = Endpoint {
    tag: TAG,
    summary: "Change the account's push name and/or about",
    access: Access::Instance,
    request: Request::Json(schema::<ProfilePatch>),
    errors: LIVE_ERRORS,
    ..Endpoint::new(
        Verb::Patch,
        "/api/instances/{id}/profile",
        "update_profile",
        Answer::Json(200, schema::<Profile>),
    )
};
static SET_PHOTO: Endpoint = Endpoint {
    tag: TAG,
    summary: "Set the account's photo (a JPEG, at most 1 MiB)",
    access: Access::Instance,
    request: Request::Json(schema::<PhotoBody>),
    errors: LIVE_ERRORS,
    ..Endpoint::new(
        Verb::Post,
        "/api/instances/{id}/profile/photo",
        "set_profile_photo",
        Answer::Json(200, schema::<PhotoChanged>),
    )
};
static REMOVE_PHOTO: Endpoint = Endpoint {
    tag: TAG,
    summary: "Remove the account's photo",
    access: Access::Instance,
    errors: LIVE_ERRORS,
    ..Endpoint::new(
        Verb::Delete,
        "/api/instances/{id}/profile/photo",
        "remove_profile_photo",
        Answer::Json(200, schema::<PhotoChanged>),
    )
};
static GET_PRIVACY: Endpoint = Endpoint {
    tag: TAG,
    summary: "The account's privacy settings",
    access: Access::Instance,
    errors: LIVE_ERRORS,
    ..Endpoint::new(
        Verb::Get,
        "/api/instances/{id}/privacy",
        "get_privacy",
        Answer::Json(200, schema::<Privacy>),
    )
};
static PATCH_PRIVACY: Endpoint = Endpoint {
    tag: TAG,
    summary: "Change privacy settings (all checked before any is changed)",
    access: Access::Instance,
    request: Request::Json(schema::<PrivacyPatch>),
    errors: LIVE_ERRORS,
    ..Endpoint::new(
        Verb::Patch,
        "/api/instances/{id}/privacy",
        "update_privacy",
        Answer::Json(200, schema::<Privacy>),
    )
};

pub fn routes(router: &mut Router) -> BoxedFilter<(Response,)> {
    let get_profile = router.route1(&GET_PROFILE).handle(get_profile);
    let patch_profile = router
        .route1(&PATCH_PROFILE)
        .and(body::json::<ProfilePatch>())
        .handle(patch_profile);
    let set_photo = router.route1(&SET_PHOTO).and(photo_body()).handle(set_photo);
    let remove_photo = router.route1(&REMOVE_PHOTO).handle(remove_photo);
    let get_privacy = router.route1(&GET_PRIVACY).handle(get_privacy);
    let patch_privacy = router
        .route1(&PATCH_PRIVACY)
        .and(body::json::<PrivacyPatch>())
        .handle(patch_privacy);
    get_profile
        .or(patch_profile)
        .unify()
        .or(set_photo)
        .unify()
        .or(remove_photo)
        .unify()
        .or(get_privacy)
        .unify()
        .or(patch_privacy)
        .unify()
        .boxed()
}

fn photo_too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "photo_too_large",
        format!("the photo has more than {MAX_PHOTO_BYTES} bytes"),
    )
}

/// The photo upload's content type and body, larger than the JSON bodies'
/// limit and refused with 413 past [`MAX_PHOTO_BODY`].
fn photo_body() -> impl Filter<Extract = ((Option<String>, Bytes),), Error = warp::Rejection> + Clone {
    warp::header::optional::<String>("content-type")
        .and(warp::header::optional::<u64>("content-length"))
        .and(warp::body::stream())
        .and_then(|content_type: Option<String>, length: Option<u64>, stream| async move {
            if length.is_some_and(|length| length > MAX_PHOTO_BODY) {
                return Err(warp::reject::custom(photo_too_large()));
            }
            body::read_limited(stream, MAX_PHOTO_BODY, "invalid_body", photo_too_large)
                .await
                .map(|body| (content_type, body))
                .map_err(warp::reject::custom)
        })
}

/// The JPEG a photo upload carries, decoded.
fn photo_of(content_type: Option<&str>, raw: &[u8]) -> Result<Bytes, ApiError> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            "a JSON body is required",
        ));
    }
    body::json_type(content_type)?;
    let PhotoBody { image } = serde_json::from_slice(raw).map_err(body::json_error)?;
    let (data, mime) = base64_data::split_data_url(&image).map_err(base64_error)?;
    if mime.is_some_and(|m| !m.eq_ignore_ascii_case("image/jpeg")) {
        return Err(crate::messaging::contacts::ContactsError::NotJpeg.into());
    }
    Ok(base64_data::decode(data, MAX_PHOTO_BYTES).map_err(base64_error)?.into())
}

fn base64_error(e: Base64Error) -> ApiError {
    match e {
        Base64Error::TooLarge { .. } => photo_too_large(),
        Base64Error::Invalid => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_base64", e.to_string()),
        Base64Error::Empty => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", "the image is empty"),
    }
}

async fn get_profile(state: AppState, id: String) -> Result<impl Reply, ApiError> {
    Ok(warp::reply::json(&Profile::from(
        state.messenger.own_profile(&id).await?,
    )))
}

async fn patch_profile(state: AppState, id: String, patch: ProfilePatch) -> Result<impl Reply, ApiError> {
    let change = ProfileChange {
        push_name: patch.push_name,
        about: patch.about,
    };
    Ok(warp::reply::json(&Profile::from(
        state.messenger.update_profile(&id, change).await?,
    )))
}

async fn set_photo(state: AppState, id: String, upload: (Option<String>, Bytes)) -> Result<impl Reply, ApiError> {
    let (content_type, raw) = upload;
    let jpeg = photo_of(content_type.as_deref(), &raw)?;
    let picture_id = state.messenger.set_photo(&id, Some(jpeg)).await?;
    Ok(warp::reply::json(&PhotoChanged { picture_id }))
}

async fn remove_photo(state: AppState, id: String) -> Result<impl Reply, ApiError> {
    state.messenger.set_photo(&id, None).await?;
    Ok(warp::reply::json(&PhotoChanged { picture_id: None }))
}

async fn get_privacy(state: AppState, id: String) -> Result<impl Reply, ApiError> {
    Ok(warp::reply::json(&Privacy::from(state.messenger.privacy(&id).await?)))
}

async fn patch_privacy(state: AppState, id: String, patch: PrivacyPatch) -> Result<impl Reply, ApiError> {
    let changes: Vec<(String, String)> = patch.into_iter().collect();
    Ok(warp::reply::json(&Privacy::from(
        state.messenger.set_privacy(&id, &changes).await?,
    )))
}
