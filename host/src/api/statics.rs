//! `GET /statics/media/<file>`: incoming media files, no token (the
//! unguessable file name is the permission, docs/API.md); no listing.
//!
//! A file is streamed from disk in small chunks as the client takes them, so
//! a download costs a buffer, never the file's size, however many clients
//! hold one open. One byte range is honoured (`Range: bytes=...`, 206 or
//! 416; see [`crate::media::range`]). Every answer says
//! `X-Content-Type-Options: nosniff`, and anything but an image is sent as an
//! attachment, so a browser never renders what a contact sent (an HTML or
//! SVG file, say) as a page of the server's origin.

use tokio::io::{AsyncReadExt, AsyncSeekExt};
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::{HeaderValue, StatusCode, header};
use warp::reply::{Reply, Response};

use super::AppState;
use super::endpoint::{Access, Answer, Endpoint, Verb};
use super::error::ApiError;
use super::handler::Handle;
use super::router::Router;
use crate::media::range::{self, RangeAnswer};
use crate::media::{is_image, mime_for};

/// Bytes read from disk at a time (and so held per download, besides the
/// connection's own write buffer).
const CHUNK: usize = 64 * 1024;

/// Beyond a missing file: an unsatisfiable range.
const ERRORS: &[u16] = &[416];

static MEDIA_FILE: Endpoint = Endpoint {
    tag: "media",
    summary: "An incoming media file (the unguessable name is the permission); one byte range may be asked for",
    access: Access::Public,
    errors: ERRORS,
    ..Endpoint::new(Verb::Get, "/statics/media/{file}", "media_file", Answer::Binary)
};

pub fn routes(router: &mut Router) -> BoxedFilter<(Response,)> {
    router
        .route1(&MEDIA_FILE)
        .and(warp::header::optional::<String>("range"))
        .and(warp::header::optional::<String>("if-range"))
        .handle(media_file)
        .boxed()
}

async fn media_file(
    state: AppState,
    file: String,
    range: Option<String>,
    if_range: Option<String>,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, "media_not_found", "no such media file");
    let path = state.media.path_of(&file).ok_or_else(not_found)?;
    let mut opened = tokio::fs::File::open(&path).await.map_err(|_| not_found())?;
    let len = opened.metadata().await.map_err(|_| not_found())?.len();
    // No validator is sent, so an `If-Range` cannot match: the whole file (RFC 9110, 13.1.5).
    let range = if if_range.is_some() { None } else { range };
    let (status, start, count) = match range::answer(range.as_deref(), len) {
        RangeAnswer::Whole => (StatusCode::OK, 0, len),
        RangeAnswer::Part { start, end } => (StatusCode::PARTIAL_CONTENT, start, end - start + 1),
        RangeAnswer::Unsatisfiable => {
            let mut response = ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "range_not_satisfiable",
                format!("the file has {len} bytes"),
            )
            .into_response();
            insert(&mut response, header::CONTENT_RANGE, format!("bytes */{len}"));
            return Ok(with_common_headers(response, &file));
        }
    };
    if start > 0 {
        opened
            .seek(std::io::SeekFrom::Start(start))
            .await
            .map_err(|_| not_found())?;
    }
    let stream = tokio_util::io::ReaderStream::with_capacity(opened.take(count), CHUNK);
    let mut response = warp::reply::stream(stream).into_response();
    *response.status_mut() = status;
    insert(&mut response, header::CONTENT_LENGTH, count.to_string());
    insert(&mut response, header::CONTENT_TYPE, mime_for(&file).to_owned());
    if status == StatusCode::PARTIAL_CONTENT {
        insert(
            &mut response,
            header::CONTENT_RANGE,
            format!("bytes {start}-{}/{len}", start + count - 1),
        );
    }
    // Content never changes under a name: cache it for good.
    insert(
        &mut response,
        header::CACHE_CONTROL,
        "private, max-age=31536000, immutable".to_owned(),
    );
    Ok(with_common_headers(response, &file))
}

/// What every answer about `file` says, whatever its status.
fn with_common_headers(mut response: Response, file: &str) -> Response {
    insert(&mut response, header::ACCEPT_RANGES, "bytes".to_owned());
    insert(&mut response, header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned());
    if !is_image(file) {
        // The name is one the store generated: letters, digits, '-' and '.'.
        insert(
            &mut response,
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{file}\""),
        );
    }
    response
}

fn insert(response: &mut Response, name: header::HeaderName, value: String) {
    if let Ok(value) = HeaderValue::from_str(&value) {
        response.headers_mut().insert(name, value);
    }
}
