//! Builds each route's warp filter from its [`Endpoint`] and keeps the list of
//! endpoints the server really serves.
//!
//! The filter matches the path template and the method (404 and 405 as warp's
//! own path filters do) and then checks the token by the endpoint's access
//! rule, before any body is read. It extracts a [`Matched`] (the state, and
//! the `request` span carrying the endpoint's path template and method, which
//! the handler runs in), then the path parameters as they appear in the path,
//! like `warp::path!` does.

use std::future::ready;
use std::sync::Arc;

use warp::Filter;
use warp::filters::BoxedFilter;
use warp::path::FullPath;
use warp::reply::Response;

use super::AppState;
use super::auth::{credentials, credentials_or_query};
use super::endpoint::{Access, Answer, Endpoint, Verb};
use super::error::reject;
use super::handler::Matched;

/// One piece of a path template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(&'static str),
    Param,
}

/// A parsed path template.
#[derive(Debug, Clone)]
pub struct Template(Arc<[Segment]>);

impl Template {
    pub fn parse(path: &'static str) -> Template {
        let segments = path
            .strip_prefix('/')
            .unwrap_or(path)
            .split('/')
            .map(|s| {
                if s.starts_with('{') && s.ends_with('}') {
                    Segment::Param
                } else {
                    Segment::Literal(s)
                }
            })
            .collect();
        Template(segments)
    }

    /// The path parameters of `path` when it matches the template, each
    /// percent-decoded once (`path_param.rs`): a client's URL builder sends a
    /// JID's `@` as `%40` and a number's `+` as `%2B`, on every route alike.
    pub fn capture(&self, path: &str) -> Option<Vec<String>> {
        let segments = PathSegments::of(path)?;
        self.matches(&segments).then(|| {
            self.0
                .iter()
                .zip(&segments.0)
                .filter(|(segment, _)| **segment == Segment::Param)
                .map(|(_, part)| super::path_param::decoded(part))
                .collect()
        })
    }

    /// Whether `path` matches, without copying its parameters (the module
    /// guards and the metrics label check every request this way).
    pub fn matches(&self, path: &PathSegments<'_>) -> bool {
        self.0.len() == path.0.len()
            && self.0.iter().zip(&path.0).all(|(segment, part)| match segment {
                Segment::Literal(literal) => part == literal,
                Segment::Param => !part.is_empty(),
            })
    }
}

/// A request path cut into its segments once, to be checked against many
/// templates (the guard of each module tried, the metrics label): a check is
/// then a count and a few comparisons, where walking the path again for each
/// of a hundred templates was a visible part of every request's CPU.
pub struct PathSegments<'p>(Vec<&'p str>);

impl<'p> PathSegments<'p> {
    /// `None` for a path that does not start with `/`: no template matches it.
    pub fn of(path: &'p str) -> Option<PathSegments<'p>> {
        Some(PathSegments(path.strip_prefix('/')?.split('/').collect()))
    }
}

/// The endpoints registered so far, and the state their access checks need.
pub struct Router {
    state: AppState,
    endpoints: Vec<&'static Endpoint>,
}

impl Router {
    pub fn new(state: AppState) -> Router {
        Router {
            state,
            endpoints: Vec::new(),
        }
    }

    /// Every endpoint registered, in registration order.
    pub fn endpoints(&self) -> &[&'static Endpoint] {
        &self.endpoints
    }

    /// The state the handlers get, for the settings a route's filters need
    /// (a body limit, say).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// One module's routes (`build` registers them), behind a guard that
    /// lets a request in only when its path matches one of their templates.
    ///
    /// warp tries the routes of an `or` chain one after the other, and every
    /// route tried costs its boxed filter futures (allocated, moved, dropped)
    /// before its path is refused: a request for one of the last routes paid
    /// that for over a hundred routes (BENCHMARKS.md, "Series G, a fifth
    /// time"). Behind the guards it pays a template comparison per endpoint
    /// instead, and enters only the modules that serve its path. A refused
    /// guard is a plain not-found, which is what each of its routes would
    /// have answered, so 404 and 405 stay as they were.
    ///
    /// The filter borrows nothing from the router (`use<B>`), so the next
    /// module can be registered while this one is being chained.
    pub fn group<B>(
        &mut self,
        build: B,
    ) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone + Send + Sync + 'static + use<B>
    where
        B: FnOnce(&mut Router) -> BoxedFilter<(Response,)>,
    {
        let first = self.endpoints.len();
        let routes = build(self);
        let templates: Arc<[Template]> = self.endpoints[first..]
            .iter()
            .map(|endpoint| Template::parse(endpoint.path))
            .collect();
        warp::path::full()
            .and_then(move |path: FullPath| {
                let served = PathSegments::of(path.as_str())
                    .is_some_and(|segments| templates.iter().any(|template| template.matches(&segments)));
                ready(if served { Ok(()) } else { Err(warp::reject::not_found()) })
            })
            .untuple_one()
            .and(routes)
    }

    /// A route without path parameters.
    pub fn route0(&mut self, endpoint: &'static Endpoint) -> BoxedFilter<(Matched,)> {
        self.route(endpoint, 0)
            .map(|matched: Matched, _: Vec<String>| matched)
            .boxed()
    }

    /// A route with one path parameter.
    pub fn route1(&mut self, endpoint: &'static Endpoint) -> BoxedFilter<(Matched, String)> {
        self.route(endpoint, 1)
            .map(|matched: Matched, mut params: Vec<String>| (matched, params.swap_remove(0)))
            .untuple_one()
            .boxed()
    }

    /// A route with two path parameters.
    pub fn route2(&mut self, endpoint: &'static Endpoint) -> BoxedFilter<(Matched, String, String)> {
        self.route(endpoint, 2)
            .map(|matched: Matched, mut params: Vec<String>| {
                let second = params.swap_remove(1);
                (matched, params.swap_remove(0), second)
            })
            .untuple_one()
            .boxed()
    }

    fn route(&mut self, endpoint: &'static Endpoint, arity: usize) -> BoxedFilter<(Matched, Vec<String>)> {
        // A mismatch is a programming error that every server start would hit.
        assert_eq!(
            endpoint.path_params().count(),
            arity,
            "{} has a different number of path parameters",
            endpoint.path
        );
        assert!(
            endpoint.access != Access::Instance || arity > 0,
            "{} checks an instance token but names no instance",
            endpoint.path
        );
        assert!(
            !self
                .endpoints
                .iter()
                .any(|e| e.verb == endpoint.verb && e.path == endpoint.path),
            "{} {} is registered twice",
            endpoint.verb.as_str(),
            endpoint.path
        );
        self.endpoints.push(endpoint);
        let template = Template::parse(endpoint.path);
        let access = endpoint.access;
        // Only WebSocket routes take `?token=` (docs/API.md, "Authentication"):
        // elsewhere a token in a URL would end up in logs and browser history.
        let credentials = match endpoint.answer {
            Answer::WebSocket => credentials_or_query().boxed(),
            _ => credentials().boxed(),
        };
        warp::path::full()
            .and_then(move |path: FullPath| ready(template.capture(path.as_str()).ok_or_else(warp::reject::not_found)))
            .and(verb(endpoint.verb))
            .and(credentials)
            .and(with_state(self.state.clone()))
            .and_then(move |params: Vec<String>, credentials, state: AppState| {
                let allowed = match access {
                    Access::Public => Ok(()),
                    Access::Admin => state.require_admin(&credentials),
                    Access::Instance => state.require_instance(&credentials, &params[0]),
                };
                ready(allowed.map_err(reject).map(|()| {
                    // The template, as the metrics label the request, and
                    // never the path: its parameters may be ids or tokens.
                    let span = tracing::info_span!("request", route = endpoint.path, method = endpoint.verb.as_str());
                    (Matched::new(state, span), params)
                }))
            })
            .untuple_one()
            .boxed()
    }
}

/// Hands a clone of the state to each request.
///
/// The state sits behind one `Arc` in the filter: warp's `or` clones the
/// branches it has not tried yet on every request, and that should cost one
/// reference count, not a copy of every field.
fn with_state(state: AppState) -> impl Filter<Extract = (AppState,), Error = std::convert::Infallible> + Clone {
    let state = Arc::new(state);
    warp::any().map(move || AppState::clone(&state))
}

fn verb(verb: Verb) -> BoxedFilter<()> {
    match verb {
        Verb::Get => warp::get().boxed(),
        Verb::Post => warp::post().boxed(),
        Verb::Patch => warp::patch().boxed(),
        Verb::Delete => warp::delete().boxed(),
    }
}

#[cfg(test)]
mod tests {
    use super::{PathSegments, Template};

    #[test]
    fn templates_capture_their_parameters_and_nothing_else() {
        let t = Template::parse("/api/instances/{id}/webhooks/{webhook_id}");
        assert_eq!(
            t.capture("/api/instances/a/webhooks/7"),
            Some(vec!["a".to_owned(), "7".to_owned()])
        );
        assert_eq!(t.capture("/api/instances/a/webhooks"), None);
        assert_eq!(t.capture("/api/instances/a/webhooks/7/x"), None);
        assert_eq!(t.capture("/api/instances//webhooks/7"), None);
        assert_eq!(t.capture("/api/instances/a/webhooks/7/"), None);
        assert_eq!(t.capture("/api/instance/a/webhooks/7"), None);
        assert_eq!(
            t.capture("/api/instances/%2B6281/webhooks/123-4%40g.us"),
            Some(vec!["+6281".to_owned(), "123-4@g.us".to_owned()]),
            "parameters are decoded"
        );
        assert_eq!(
            t.capture("/api/instances/a%2540b/webhooks/7"),
            Some(vec!["a%40b".to_owned(), "7".to_owned()]),
            "once"
        );
        let root = Template::parse("/health");
        let matches = |template: &Template, path: &str| {
            let by_segments = PathSegments::of(path).is_some_and(|segments| template.matches(&segments));
            assert_eq!(by_segments, template.capture(path).is_some(), "{path}: both ways agree");
            by_segments
        };
        assert!(matches(&root, "/health"));
        assert!(!matches(&root, "/"));
        assert!(!matches(&root, "/health/"));
        assert!(!matches(&root, "health"));
        for path in [
            "/api/instances/a/webhooks/7",
            "/api/instances/a/webhooks",
            "/api/instances/a/webhooks/7/x",
            "/api/instances//webhooks/7",
            "/api/instances/a/webhooks/7/",
            "/api/instance/a/webhooks/7",
            "",
            "/",
        ] {
            matches(&t, path);
        }
        assert!(matches(&t, "/api/instances/a/webhooks/7"));
    }
}
