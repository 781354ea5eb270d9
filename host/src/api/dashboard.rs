//! The web dashboard: `GET /` (the page) and `GET /dashboard/{file}` (its
//! style sheet and ES modules), public like docs/API.md says, since the page holds
//! no data: it signs in with the admin token, kept in the browser's session,
//! and reads everything through the API and the WebSockets.
//!
//! The files live in `host/dashboard/` and are compiled into the binary, so
//! the dashboard works offline and cannot drift from the server it ships with.
//! There is no build step: the browser loads the modules as they are.

use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::{HeaderValue, StatusCode};
use warp::reply::Response;

use super::AppState;
use super::endpoint::{Access, Answer, Endpoint, Verb};
use super::error::ApiError;
use super::handler::Handle;
use super::router::Router;

/// One file of the dashboard.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const JS: &str = "text/javascript; charset=utf-8";

/// An asset named after its file in `host/dashboard/`, so the served name
/// and the embedded file cannot drift apart.
macro_rules! asset {
    ($file:literal, $content_type:expr) => {
        Asset {
            name: $file,
            content_type: $content_type,
            body: include_bytes!(concat!("../../dashboard/", $file)),
        }
    };
}

/// Every file under `/dashboard/`; nothing else is served there.
static ASSETS: &[Asset] = &[
    asset!("style.css", "text/css; charset=utf-8"),
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("dom.js", JS),
    asset!("store.js", JS),
    asset!("instances.js", JS),
    asset!("feed.js", JS),
    asset!("compose.js", JS),
    asset!("poll.js", JS),
    asset!("groups.js", JS),
    asset!("webhooks.js", JS),
    asset!("queue.js", JS),
    asset!("plugins.js", JS),
];

static PAGE: &[u8] = include_bytes!("../../dashboard/index.html");

/// Only the server's own files run and load; the API and the WebSockets are
/// reached on the same origin (CSP 3's `'self'` covers `ws:`/`wss:` to it);
/// QR codes are PNGs fetched with the token and shown as `blob:` URLs.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; \
                   connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'";

const TAG: &str = "dashboard";

static PAGE_ROUTE: Endpoint = Endpoint {
    tag: TAG,
    summary: "The web dashboard (no token: it signs in with the admin token in the browser)",
    access: Access::Public,
    ..Endpoint::new(Verb::Get, "/", "dashboard", Answer::Text("text/html; charset=utf-8"))
};
static ASSET_ROUTE: Endpoint = Endpoint {
    tag: TAG,
    summary: "A file of the web dashboard: its style sheet and ES modules",
    access: Access::Public,
    ..Endpoint::new(Verb::Get, "/dashboard/{file}", "dashboard_asset", Answer::Binary)
};

pub fn routes(router: &mut Router) -> BoxedFilter<(Response,)> {
    let page = router.route0(&PAGE_ROUTE).handle(page);
    let asset = router.route1(&ASSET_ROUTE).handle(asset);
    page.or(asset).unify().boxed()
}

async fn page(_: AppState) -> Result<Response, ApiError> {
    Ok(reply(PAGE, "text/html; charset=utf-8"))
}

async fn asset(_: AppState, file: String) -> Result<Response, ApiError> {
    let asset = ASSETS.iter().find(|a| a.name == file).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "asset_not_found",
            format!("the dashboard has no file {file:?}"),
        )
    })?;
    Ok(reply(asset.body, asset.content_type))
}

fn reply(body: &'static [u8], content_type: &'static str) -> Response {
    let mut response = Response::new(body.into());
    let headers = response.headers_mut();
    headers.insert("content-type", HeaderValue::from_static(content_type));
    headers.insert("content-security-policy", HeaderValue::from_static(CSP));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    // The files change with the binary, under the same names: the browser
    // asks again each time instead of running a stale module after an upgrade.
    headers.insert("cache-control", HeaderValue::from_static("no-cache"));
    response
}

#[cfg(test)]
mod tests {
    use super::ASSETS;

    #[test]
    fn every_module_the_page_and_its_modules_import_is_served() {
        let page = std::str::from_utf8(super::PAGE).unwrap();
        let mut sources = vec![page];
        sources.extend(ASSETS.iter().map(|a| std::str::from_utf8(a.body).unwrap()));
        for source in sources {
            for reference in source
                .split(['"', '\''])
                .filter(|s| s.starts_with("./") || s.starts_with("/dashboard/"))
            {
                let name = reference.trim_start_matches("./").trim_start_matches("/dashboard/");
                assert!(
                    ASSETS.iter().any(|a| a.name == name),
                    "{reference} is referenced but not embedded"
                );
            }
        }
    }
}
