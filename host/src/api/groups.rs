//! `/api/groups/{id}/...`: an instance's groups (docs/API.md, "Groups"):
//! list and read them, create one, change participants, the invite link,
//! subject, description, settings and photo, join by invite, leave, and
//! answer join requests. The work and the checks are the Messenger's
//! (`messaging/groups.rs`); this module is the HTTP shapes.

use serde::{Deserialize, Serialize};
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::{Json, Reply, Response};
use wasap_events::model::phone_of;

use super::base64_data::{self, Base64Error};
use super::endpoint::{Access, Answer, Endpoint, Request, Verb, schema};
use super::error::ApiError;
use super::handler::Handle;
use super::router::Router;
use super::{AppState, body};

use crate::engine::{
    GroupInfo, InvitePreview, JoinRequest, Joined, ParticipantAction, ParticipantResult, RequestAction,
};
use crate::messaging::groups::{GroupError, GroupUpdate, MAX_PHOTO_BYTES, invite_link};

const TAG: &str = "groups";
/// Beyond a bad body: not an admin (403), no such group (404), an invite
/// code that leads nowhere (410), a malformed group JID or code in the path
/// (422), a disconnected instance (503).
const GROUP_ERRORS: &[u16] = &[403, 404, 410, 422, 503];

/// A group as the instance sees it.
#[derive(Serialize, schemars::JsonSchema)]
struct GroupView {
    /// `…@g.us`
    jid: String,
    subject: String,
    description: Option<String>,
    /// Who created it (a JID), when WhatsApp says.
    owner: Option<String>,
    /// Unix seconds, when WhatsApp says.
    created: Option<i64>,
    /// Only admins may send messages.
    announce: bool,
    /// Only admins may edit the subject, description and photo.
    locked: bool,
    /// Joins by invite link wait for an admin's approval.
    approval: bool,
    /// The instance's own role: `member`, `admin` or `superadmin` (the creator).
    role: &'static str,
    participant_count: usize,
    participants: Vec<ParticipantView>,
}

#[derive(Serialize, schemars::JsonSchema)]
struct ParticipantView {
    /// The member as the group names it (a phone JID, or a LID).
    jid: String,
    /// The member's LID (`<digits>@lid`), when known.
    lid: Option<String>,
    /// The member's phone number (international form without `+`), when
    /// known: the same naming as the events' `phone` fields.
    phone: Option<String>,
    /// `member`, `admin` or `superadmin`.
    role: &'static str,
    /// The member is the instance's own account.
    is_me: bool,
}

fn role(admin: bool, super_admin: bool) -> &'static str {
    match (admin, super_admin) {
        (_, true) => "superadmin",
        (true, false) => "admin",
        _ => "member",
    }
}

impl From<GroupInfo> for GroupView {
    fn from(group: GroupInfo) -> GroupView {
        let mine = group.me().map_or("member", |me| role(me.admin, me.super_admin));
        GroupView {
            role: mine,
            participant_count: group.participants.len(),
            participants: group
                .participants
                .into_iter()
                .map(|p| ParticipantView {
                    role: role(p.admin, p.super_admin),
                    jid: p.jid,
                    lid: p.lid,
                    phone: p.phone_jid.as_deref().and_then(phone_of).map(str::to_owned),
                    is_me: p.is_me,
                })
                .collect(),
            jid: group.jid,
            subject: group.subject,
            description: group.description,
            owner: group.owner,
            created: group.created,
            announce: group.settings.announce,
            locked: group.settings.locked,
            approval: group.settings.approval,
        }
    }
}

#[derive(Serialize, schemars::JsonSchema)]
struct GroupList {
    groups: Vec<GroupView>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct CreateGroup {
    /// 1 to 100 characters.
    subject: String,
    /// Phone numbers or user JIDs, at most 256; may be empty.
    #[serde(default)]
    participants: Vec<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct ChangeParticipants {
    action: ParticipantAction,
    /// Phone numbers or user JIDs, 1 to 256.
    participants: Vec<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct AnswerRequests {
    action: RequestAction,
    /// The JIDs (or phone numbers) of those who asked, 1 to 256.
    participants: Vec<String>,
}

#[derive(Serialize, schemars::JsonSchema)]
struct ParticipantOutcome {
    jid: String,
    /// The change was made.
    ok: bool,
    /// WhatsApp's code when it was not: 403 (their privacy settings refuse
    /// it: send them the invite link), 404 (no such account or member), 409
    /// (already a member), ...
    error: Option<u16>,
}

#[derive(Serialize, schemars::JsonSchema)]
struct ParticipantOutcomes {
    results: Vec<ParticipantOutcome>,
}

impl From<Vec<ParticipantResult>> for ParticipantOutcomes {
    fn from(results: Vec<ParticipantResult>) -> ParticipantOutcomes {
        ParticipantOutcomes {
            results: results
                .into_iter()
                .map(|r| ParticipantOutcome {
                    ok: r.error.is_none(),
                    jid: r.jid,
                    error: r.error,
                })
                .collect(),
        }
    }
}

#[derive(Serialize, schemars::JsonSchema)]
struct Invite {
    code: String,
    /// `https://chat.whatsapp.com/<code>`
    link: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Join {
    /// An invite code, or its link `https://chat.whatsapp.com/<code>`.
    code: String,
}

#[derive(Serialize, schemars::JsonSchema)]
struct JoinedView {
    group: String,
    /// `joined`, or `requested` when the group's admins approve joins.
    status: &'static str,
}

#[derive(Serialize, schemars::JsonSchema)]
struct PreviewView {
    jid: String,
    subject: String,
    description: Option<String>,
    size: u32,
    owner: Option<String>,
    created: Option<i64>,
}

impl From<InvitePreview> for PreviewView {
    fn from(p: InvitePreview) -> PreviewView {
        PreviewView {
            jid: p.jid,
            subject: p.subject,
            description: p.description,
            size: p.size,
            owner: p.owner,
            created: p.created,
        }
    }
}

#[derive(Serialize, schemars::JsonSchema)]
struct Left {
    left: String,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Settings {
    /// 1 to 100 characters.
    subject: Option<String>,
    /// At most 2,048 characters; empty removes it.
    description: Option<String>,
    /// Only admins may send messages.
    announce: Option<bool>,
    /// Only admins may edit the subject, description and photo.
    locked: Option<bool>,
    /// Joins by invite link wait for an admin's approval.
    approval: Option<bool>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Photo {
    /// A JPEG image (640×640 is what WhatsApp shows), base64 or a `data:`
    /// URL, at most 184,320 bytes decoded.
    image: String,
}

#[derive(Serialize, schemars::JsonSchema)]
struct PhotoSet {
    /// The photo's id, as WhatsApp gave it.
    photo_id: String,
}

#[derive(Serialize, schemars::JsonSchema)]
struct RequestView {
    jid: String,
    /// Unix seconds, when WhatsApp says.
    requested_at: Option<i64>,
}

#[derive(Serialize, schemars::JsonSchema)]
struct RequestList {
    requests: Vec<RequestView>,
}

impl From<JoinRequest> for RequestView {
    fn from(r: JoinRequest) -> RequestView {
        RequestView {
            jid: r.jid,
            requested_at: r.requested_at,
        }
    }
}

macro_rules! group_endpoint {
    ($name:ident, $verb:ident, $path:literal, $id:literal, $summary:literal, $request:expr, $answer:expr) => {
        static $name: Endpoint = Endpoint {
            tag: TAG,
            summary: $summary,
            access: Access::Instance,
            request: $request,
            errors: GROUP_ERRORS,
            ..Endpoint::new(Verb::$verb, $path, $id, $answer)
        };
    };
}

group_endpoint!(
    LIST,
    Get,
    "/api/groups/{id}",
    "list_groups",
    "The groups the instance's account is in",
    Request::None,
    Answer::Json(200, schema::<GroupList>)
);
group_endpoint!(
    CREATE,
    Post,
    "/api/groups/{id}",
    "create_group",
    "Create a group",
    Request::Json(schema::<CreateGroup>),
    Answer::Json(201, schema::<GroupView>)
);
group_endpoint!(
    JOIN,
    Post,
    "/api/groups/{id}/join",
    "join_group",
    "Join a group by its invite code or link",
    Request::Json(schema::<Join>),
    Answer::Json(200, schema::<JoinedView>)
);
group_endpoint!(
    PREVIEW,
    Get,
    "/api/groups/{id}/invites/{code}",
    "preview_group_invite",
    "The group an invite code leads to, without joining it",
    Request::None,
    Answer::Json(200, schema::<PreviewView>)
);
group_endpoint!(
    GET,
    Get,
    "/api/groups/{id}/{group}",
    "get_group",
    "A group: subject, description, settings, participants and their roles",
    Request::None,
    Answer::Json(200, schema::<GroupView>)
);
group_endpoint!(
    UPDATE,
    Patch,
    "/api/groups/{id}/{group}",
    "update_group",
    "Change a group's subject, description or settings",
    Request::Json(schema::<Settings>),
    Answer::Json(200, schema::<GroupView>)
);
group_endpoint!(
    PARTICIPANTS,
    Post,
    "/api/groups/{id}/{group}/participants",
    "change_group_participants",
    "Add, remove, promote or demote participants",
    Request::Json(schema::<ChangeParticipants>),
    Answer::Json(200, schema::<ParticipantOutcomes>)
);
group_endpoint!(
    INVITE,
    Get,
    "/api/groups/{id}/{group}/invite",
    "group_invite",
    "The group's invite link",
    Request::None,
    Answer::Json(200, schema::<Invite>)
);
group_endpoint!(
    RESET_INVITE,
    Post,
    "/api/groups/{id}/{group}/invite",
    "reset_group_invite",
    "Reset the group's invite link: the old one stops working",
    Request::None,
    Answer::Json(200, schema::<Invite>)
);
group_endpoint!(
    LEAVE,
    Post,
    "/api/groups/{id}/{group}/leave",
    "leave_group",
    "Leave a group",
    Request::None,
    Answer::Json(200, schema::<Left>)
);
group_endpoint!(
    PHOTO,
    Post,
    "/api/groups/{id}/{group}/photo",
    "set_group_photo",
    "Set the group's photo",
    Request::Json(schema::<Photo>),
    Answer::Json(200, schema::<PhotoSet>)
);
group_endpoint!(
    REQUESTS,
    Get,
    "/api/groups/{id}/{group}/requests",
    "group_join_requests",
    "Requests to join the group, waiting for an admin",
    Request::None,
    Answer::Json(200, schema::<RequestList>)
);
group_endpoint!(
    ANSWER_REQUESTS,
    Post,
    "/api/groups/{id}/{group}/requests",
    "answer_group_join_requests",
    "Approve or reject requests to join the group",
    Request::Json(schema::<AnswerRequests>),
    Answer::Json(200, schema::<ParticipantOutcomes>)
);

pub fn routes(router: &mut Router) -> BoxedFilter<(Response,)> {
    let list = router.route1(&LIST).handle(list);
    let create = router.route1(&CREATE).and(body::json::<CreateGroup>()).handle(create);
    let join = router.route1(&JOIN).and(body::json::<Join>()).handle(join);
    let preview = router.route2(&PREVIEW).handle(preview);
    let get = router.route2(&GET).handle(get);
    let update = router.route2(&UPDATE).and(body::json::<Settings>()).handle(update);
    let participants = router
        .route2(&PARTICIPANTS)
        .and(body::json::<ChangeParticipants>())
        .handle(participants);
    let invite = router.route2(&INVITE).handle(invite);
    let reset_invite = router.route2(&RESET_INVITE).handle(reset_invite);
    let leave = router.route2(&LEAVE).handle(leave);
    let photo = router.route2(&PHOTO).and(body::json::<Photo>()).handle(photo);
    let requests = router.route2(&REQUESTS).handle(requests);
    let answer_requests = router
        .route2(&ANSWER_REQUESTS)
        .and(body::json::<AnswerRequests>())
        .handle(answer_requests);
    list.or(create)
        .unify()
        .or(join)
        .unify()
        .or(preview)
        .unify()
        .or(get)
        .unify()
        .or(update)
        .unify()
        .or(participants)
        .unify()
        .or(invite)
        .unify()
        .or(reset_invite)
        .unify()
        .or(leave)
        .unify()
        .or(photo)
        .unify()
        .or(requests)
        .unify()
        .or(answer_requests)
        .unify()
        .boxed()
}

impl From<GroupError> for ApiError {
    fn from(e: GroupError) -> ApiError {
        let message = e.to_string();
        let (status, code) = match e {
            GroupError::InvalidGroup(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_group"),
            GroupError::InvalidParticipant(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_participant"),
            GroupError::ParticipantCount => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_participants"),
            GroupError::InvalidSubject => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_subject"),
            GroupError::InvalidDescription => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_description"),
            GroupError::InvalidInviteCode(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_invite_code"),
            GroupError::InvalidPhoto => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_photo"),
            GroupError::NothingToChange => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
            GroupError::Instance(e) => return e.into(),
            GroupError::Engine(e) => return e.into(),
        };
        ApiError::new(status, code, message)
    }
}

async fn list(state: AppState, id: String) -> Result<Json, ApiError> {
    let groups = state.messenger.groups(&id).await?;
    Ok(warp::reply::json(&GroupList {
        groups: groups.into_iter().map(GroupView::from).collect(),
    }))
}

async fn create(state: AppState, id: String, body: CreateGroup) -> Result<impl Reply, ApiError> {
    let group = state
        .messenger
        .create_group(&id, &body.subject, &body.participants)
        .await?;
    Ok(warp::reply::with_status(
        warp::reply::json(&GroupView::from(group)),
        StatusCode::CREATED,
    ))
}

async fn join(state: AppState, id: String, body: Join) -> Result<Json, ApiError> {
    let (group, status) = match state.messenger.join_group(&id, &body.code).await? {
        Joined::Member(group) => (group, "joined"),
        Joined::Requested(group) => (group, "requested"),
    };
    Ok(warp::reply::json(&JoinedView { group, status }))
}

async fn preview(state: AppState, id: String, code: String) -> Result<Json, ApiError> {
    let preview = state.messenger.invite_preview(&id, &code).await?;
    Ok(warp::reply::json(&PreviewView::from(preview)))
}

async fn get(state: AppState, id: String, group: String) -> Result<Json, ApiError> {
    let group = state.messenger.group(&id, &group).await?;
    Ok(warp::reply::json(&GroupView::from(group)))
}

async fn update(state: AppState, id: String, group: String, body: Settings) -> Result<Json, ApiError> {
    let update = GroupUpdate {
        subject: body.subject,
        description: body.description,
        announce: body.announce,
        locked: body.locked,
        approval: body.approval,
    };
    state.messenger.update_group(&id, &group, update).await?;
    let group = state.messenger.group(&id, &group).await?;
    Ok(warp::reply::json(&GroupView::from(group)))
}

async fn participants(state: AppState, id: String, group: String, body: ChangeParticipants) -> Result<Json, ApiError> {
    let results = state
        .messenger
        .change_participants(&id, &group, body.action, &body.participants)
        .await?;
    Ok(warp::reply::json(&ParticipantOutcomes::from(results)))
}

async fn invite(state: AppState, id: String, group: String) -> Result<Json, ApiError> {
    let code = state.messenger.invite_code(&id, &group, false).await?;
    Ok(warp::reply::json(&Invite {
        link: invite_link(&code),
        code,
    }))
}

async fn reset_invite(state: AppState, id: String, group: String) -> Result<Json, ApiError> {
    let code = state.messenger.invite_code(&id, &group, true).await?;
    Ok(warp::reply::json(&Invite {
        link: invite_link(&code),
        code,
    }))
}

async fn leave(state: AppState, id: String, group: String) -> Result<Json, ApiError> {
    state.messenger.leave_group(&id, &group).await?;
    Ok(warp::reply::json(&Left { left: group }))
}

async fn photo(state: AppState, id: String, group: String, body: Photo) -> Result<Json, ApiError> {
    let (data, _) = base64_data::split_data_url(&body.image).map_err(photo_error)?;
    let jpeg = base64_data::decode(data, MAX_PHOTO_BYTES as u64).map_err(photo_error)?;
    let photo_id = state.messenger.set_group_photo(&id, &group, jpeg.into()).await?;
    Ok(warp::reply::json(&PhotoSet { photo_id }))
}

fn photo_error(_: Base64Error) -> ApiError {
    GroupError::InvalidPhoto.into()
}

async fn requests(state: AppState, id: String, group: String) -> Result<Json, ApiError> {
    let requests = state.messenger.join_requests(&id, &group).await?;
    Ok(warp::reply::json(&RequestList {
        requests: requests.into_iter().map(RequestView::from).collect(),
    }))
}

async fn answer_requests(state: AppState, id: String, group: String, body: AnswerRequests) -> Result<Json, ApiError> {
    let results = state
        .messenger
        .answer_join_requests(&id, &group, body.action, &body.participants)
        .await?;
    Ok(warp::reply::json(&ParticipantOutcomes::from(results)))
}
