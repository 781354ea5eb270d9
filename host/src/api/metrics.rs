//! `GET /metrics` (admin token): the counters of [`crate::metrics`] in the
//! Prometheus text format, and the request counting around every route.

use std::sync::Arc;

use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::{Reply, Response};

use super::AppState;
use super::endpoint::{Access, Answer, Endpoint, Verb};
use super::error::ApiError;
use super::handler::Handle;
use super::router::{PathSegments, Router, Template};
use crate::metrics::Metrics;

static METRICS: Endpoint = Endpoint {
    tag: "operations",
    summary: "Prometheus metrics: requests by route and status, messages sent, instances by status, each instance's last inbound age, reconnects and send failures, WebSocket connections and frames, plugin reloads, built-in plugin failures and events pending in the plugins",
    access: Access::Admin,
    ..Endpoint::new(
        Verb::Get,
        "/metrics",
        "metrics",
        Answer::Text("text/plain; version=0.0.4"),
    )
};

pub fn route(router: &mut Router) -> BoxedFilter<(Response,)> {
    router.route0(&METRICS).handle(metrics).boxed()
}

async fn metrics(state: AppState) -> Result<impl Reply, ApiError> {
    let instances = state.store.count_instances_by_status().await?;
    let mut text = state.metrics.render(&instances);
    crate::instances::render_metrics(&mut text, &state.instances.stats());
    if let Some(hub) = &state.websockets {
        hub.render_metrics(&mut text);
    }
    state.plugins.render_metrics(&mut text);
    text.push_str(&state.send_queue.metrics_text().await?);
    state.rate_limit.render_metrics(&mut text);
    Ok(warp::reply::with_header(
        text,
        "content-type",
        "text/plain; version=0.0.4; charset=utf-8",
    ))
}

/// Which route template a request path belongs to, for its metrics label.
#[derive(Clone)]
pub struct RouteLabels(Arc<[(Template, &'static str)]>);

impl RouteLabels {
    pub fn new(endpoints: &[&'static Endpoint]) -> RouteLabels {
        let mut labels: Vec<(Template, &'static str)> = Vec::new();
        for endpoint in endpoints {
            if !labels.iter().any(|(_, path)| *path == endpoint.path) {
                labels.push((Template::parse(endpoint.path), endpoint.path));
            }
        }
        RouteLabels(labels.into())
    }

    /// The template `path` matches, or `unmatched`.
    pub fn of(&self, path: &str) -> &'static str {
        let Some(segments) = PathSegments::of(path) else {
            return "unmatched";
        };
        self.0
            .iter()
            .find(|(template, _)| template.matches(&segments))
            .map_or("unmatched", |(_, label)| label)
    }
}

/// Counts every answered request by route template, method and status.
pub fn observe(
    metrics: Arc<Metrics>,
    labels: RouteLabels,
) -> warp::log::Log<impl Fn(warp::log::Info<'_>) + Clone + Send> {
    warp::log::custom(move |info| {
        metrics.observe_request(
            labels.of(info.path()),
            info.method().as_str(),
            info.status().as_u16(),
            info.elapsed(),
        );
    })
}
