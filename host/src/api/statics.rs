//! `GET /statics/media/<file>`: incoming media files, no token (the
//! unguessable file name is the permission, docs/API.md); no listing.

use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use super::AppState;
use super::endpoint::{Access, Answer, Endpoint, Verb};
use super::error::ApiError;
use super::handler::Handle;
use super::router::Router;
use crate::media::mime_for;

static MEDIA_FILE: Endpoint = Endpoint {
    tag: "media",
    summary: "An incoming media file (the unguessable name is the permission)",
    access: Access::Public,
    ..Endpoint::new(Verb::Get, "/statics/media/{file}", "media_file", Answer::Binary)
};

pub fn routes(router: &mut Router) -> BoxedFilter<(Response,)> {
    router.route1(&MEDIA_FILE).handle(media_file).boxed()
}

async fn media_file(state: AppState, file: String) -> Result<impl Reply, ApiError> {
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, "media_not_found", "no such media file");
    let path = state.media.path_of(&file).ok_or_else(not_found)?;
    let bytes = tokio::fs::read(&path).await.map_err(|_| not_found())?;
    let reply = warp::reply::with_header(bytes, "content-type", mime_for(&file));
    // Content never changes under a name: cache it for good.
    Ok(warp::reply::with_header(
        reply,
        "cache-control",
        "private, max-age=31536000, immutable",
    ))
}
