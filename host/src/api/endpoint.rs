//! What the server says about each of its routes: method, path template, who
//! may call it, what it takes and what it answers.
//!
//! Every route is declared once as an [`Endpoint`]; the [`super::router`]
//! builds the warp filter from that declaration and remembers it, and both the
//! OpenAPI document and the request metrics are derived from what the router
//! remembers. A route cannot exist without being documented.

use schemars::{JsonSchema, Schema, SchemaGenerator};

/// An HTTP method the API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Get,
    Post,
    Patch,
    Delete,
}

impl Verb {
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "GET",
            Verb::Post => "POST",
            Verb::Patch => "PATCH",
            Verb::Delete => "DELETE",
        }
    }
}

/// Who may call a route (docs/API.md, "Authentication").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No token needed.
    Public,
    /// The admin token only; an instance token gets 403.
    Admin,
    /// The admin token or the token of the instance named by the route's
    /// first path parameter.
    Instance,
}

/// The JSON Schema of a type, registered in the document's components.
pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

/// The schema of `T`, as a reference into the document's components.
pub fn schema<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

/// A field of a multipart form.
#[derive(Debug, Clone, Copy)]
pub struct FormField {
    pub name: &'static str,
    pub required: bool,
    /// A file rather than a text field.
    pub file: bool,
    pub description: &'static str,
}

/// What a route takes in its body.
#[derive(Clone, Copy)]
pub enum Request {
    None,
    /// A JSON body of this schema.
    Json(SchemaFn),
    /// A JSON body of this schema, or no body at all.
    OptionalJson(SchemaFn),
    Multipart(&'static [FormField]),
}

/// A query parameter.
#[derive(Debug, Clone, Copy)]
pub struct QueryParam {
    pub name: &'static str,
    pub description: &'static str,
    /// The values it takes, when they are few.
    pub values: &'static [&'static str],
}

/// What a route answers on success.
#[derive(Clone, Copy)]
pub enum Answer {
    /// JSON of this schema, with this status.
    Json(u16, SchemaFn),
    /// JSON of this schema, or a PNG image when the client asks for one.
    JsonOrPng(SchemaFn),
    /// Bytes of a content type known only at run time.
    Binary,
    /// Text of this content type.
    Text(&'static str),
    /// An upgrade to a WebSocket of JSON text frames. These routes also take
    /// the token as `?token=`: browsers cannot set headers on a WebSocket.
    WebSocket,
}

/// One route of the API.
#[derive(Clone, Copy)]
pub struct Endpoint {
    pub verb: Verb,
    /// The path template, with `{name}` for each path parameter.
    pub path: &'static str,
    /// A stable name for the operation (`operationId`).
    pub id: &'static str,
    /// Where it is listed: instances, messages, simulator, operations...
    pub tag: &'static str,
    pub summary: &'static str,
    pub access: Access,
    pub request: Request,
    pub query: &'static [QueryParam],
    pub answer: Answer,
    /// The 202 answer of a send the request asked to queue (`"queue"`,
    /// `"send_at"`: docs/API.md, "Send queue"), for the routes that take them.
    pub queued: Option<SchemaFn>,
    /// Error statuses beyond those that follow from the access rule, the body
    /// and the path parameters (which [`Endpoint::error_statuses`] adds).
    pub errors: &'static [u16],
}

impl Endpoint {
    /// A route with no body, no query and the given answer; the rest is
    /// filled in with struct update syntax.
    pub const fn new(verb: Verb, path: &'static str, id: &'static str, answer: Answer) -> Endpoint {
        Endpoint {
            verb,
            path,
            id,
            tag: "",
            summary: "",
            access: Access::Admin,
            request: Request::None,
            query: &[],
            answer,
            queued: None,
            errors: &[],
        }
    }

    /// The names of the path parameters, in order.
    pub fn path_params(&self) -> impl Iterator<Item = &'static str> {
        self.path
            .split('/')
            .filter_map(|segment| segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
    }

    /// Every error status the route can answer with, sorted.
    pub fn error_statuses(&self) -> Vec<u16> {
        let mut statuses: Vec<u16> = self.errors.to_vec();
        if self.access != Access::Public {
            statuses.extend([401, 403]);
        }
        if super::rate_limit::covers(self.path) {
            statuses.push(429);
        }
        match self.request {
            Request::None => {}
            Request::Json(_) | Request::OptionalJson(_) => statuses.extend([400, 413, 415, 422]),
            Request::Multipart(_) => statuses.extend([400, 411, 413, 415, 422]),
        }
        if self.path_params().next().is_some() {
            statuses.push(404);
        }
        if !self.query.is_empty() {
            statuses.push(400);
        }
        statuses.sort_unstable();
        statuses.dedup();
        statuses
    }
}
