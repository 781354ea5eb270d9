//! `GET /openapi.json`: the OpenAPI 3 description of every route the server
//! serves, generated at start-up from the endpoints the router registered and
//! the JSON Schemas of the very types the handlers read and write.

use std::sync::{Arc, OnceLock};

use schemars::SchemaGenerator;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::Response;

use super::AppState;
use super::endpoint::{Access, Answer, Endpoint, Request, Verb, schema};
use super::error::{ApiError, ErrorBody};
use super::handler::Handle;
use super::router::Router;

static OPENAPI: Endpoint = Endpoint {
    tag: "operations",
    summary: "This document: the OpenAPI 3 description of every route",
    access: Access::Public,
    ..Endpoint::new(
        Verb::Get,
        "/openapi.json",
        "openapi",
        Answer::Json(200, schema::<Value>),
    )
};

/// The document, filled in once every route is registered.
pub type Document = Arc<OnceLock<bytes::Bytes>>;

pub fn route(router: &mut Router, document: Document) -> BoxedFilter<(Response,)> {
    router
        .route0(&OPENAPI)
        .handle(move |_: AppState| {
            let body = document.get().cloned().unwrap_or_default();
            let mut response = Response::new(body.into());
            response
                .headers_mut()
                .insert("content-type", warp::http::HeaderValue::from_static("application/json"));
            async move { Ok::<_, ApiError>(response) }
        })
        .boxed()
}

/// The OpenAPI document of `endpoints`.
pub fn document(endpoints: &[&'static Endpoint]) -> Value {
    let mut generator = SchemaSettings::openapi3().into_generator();
    let error = schema::<ErrorBody<'_>>(&mut generator);
    let mut paths = Map::new();
    for endpoint in endpoints {
        let item = paths.entry(endpoint.path).or_insert_with(|| json!({}));
        item[endpoint.verb.as_str().to_ascii_lowercase()] = operation(endpoint, &mut generator, &error);
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "wasap",
            "description": "Self-hosted WhatsApp automation server: instances, messages, webhooks, \
                            WebSockets and plugins. Every error is `{\"error\":{\"code\",\"message\"}}`. \
                            Requests under `/api/` and to `/ws` count against a per-client rate limit \
                            (per token, or per address without a valid token): over it they get 429 \
                            `rate_limited` with `Retry-After` in whole seconds.",
            "version": env!("CARGO_PKG_VERSION"),
        },
        "paths": paths,
        "components": {
            "schemas": generator.take_definitions(true),
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The admin token, or an instance token on that instance's own routes",
                },
            },
        },
    })
}

fn operation(endpoint: &Endpoint, generator: &mut SchemaGenerator, error: &schemars::Schema) -> Value {
    let mut parameters: Vec<Value> = endpoint
        .path_params()
        .map(|name| {
            json!({"name": name, "in": "path", "required": true, "schema": {"type": "string", "minLength": 1},
                "description": "Percent-decoded once (`%40` is `@`, `%2B` is `+`)"})
        })
        .collect();
    parameters.extend(endpoint.query.iter().map(|param| {
        let mut schema = json!({"type": "string"});
        if !param.values.is_empty() {
            schema["enum"] = json!(param.values);
        }
        json!({"name": param.name, "in": "query", "required": false, "description": param.description, "schema": schema})
    }));
    let mut operation = json!({
        "operationId": endpoint.id,
        "summary": endpoint.summary,
        "tags": [endpoint.tag],
        "parameters": parameters,
        "responses": responses(endpoint, generator, error),
    });
    operation["security"] = match endpoint.access {
        Access::Public => json!([]),
        Access::Admin | Access::Instance => json!([{"bearer": []}]),
    };
    if let Some(body) = request_body(endpoint.request, generator) {
        operation["requestBody"] = body;
    }
    operation
}

fn request_body(request: Request, generator: &mut SchemaGenerator) -> Option<Value> {
    let (required, content) = match request {
        Request::None => return None,
        Request::Json(schema) => (true, json!({"application/json": {"schema": schema(generator)}})),
        Request::OptionalJson(schema) => (false, json!({"application/json": {"schema": schema(generator)}})),
        Request::Multipart(fields) => {
            let properties: Map<String, Value> = fields
                .iter()
                .map(|field| {
                    let schema = if field.file {
                        json!({"type": "string", "format": "binary", "description": field.description})
                    } else {
                        json!({"type": "string", "description": field.description})
                    };
                    (field.name.to_owned(), schema)
                })
                .collect();
            let required: Vec<&str> = fields.iter().filter(|f| f.required).map(|f| f.name).collect();
            let form = json!({"type": "object", "properties": properties, "required": required});
            (true, json!({"multipart/form-data": {"schema": form}}))
        }
    };
    Some(json!({"required": required, "content": content}))
}

fn responses(endpoint: &Endpoint, generator: &mut SchemaGenerator, error: &schemars::Schema) -> Value {
    let mut responses = Map::new();
    let (status, content) = match endpoint.answer {
        Answer::Json(status, schema) => (status, json!({"application/json": {"schema": schema(generator)}})),
        Answer::JsonOrPng(schema) => (
            200,
            json!({
                "application/json": {"schema": schema(generator)},
                "image/png": {"schema": {"type": "string", "format": "binary"}},
            }),
        ),
        Answer::Binary => (
            200,
            json!({"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}),
        ),
        Answer::Text(content_type) => (200, json!({ content_type: {"schema": {"type": "string"}} })),
        Answer::WebSocket => {
            let description = "Switching Protocols: a WebSocket of JSON text frames {\"event\",\"timestamp\",\"data\"}";
            responses.insert("101".to_owned(), json!({"description": description}));
            (0, Value::Null)
        }
    };
    if status != 0 {
        responses.insert(
            status.to_string(),
            json!({"description": "Success", "content": content}),
        );
    }
    if let Some(schema) = endpoint.queued {
        responses.insert(
            "202".to_owned(),
            json!({
                "description": "Queued: the send is a job of the instance's send queue",
                "content": {"application/json": {"schema": schema(generator)}},
            }),
        );
    }
    for status in endpoint.error_statuses() {
        let mut response = json!({"description": reason(status), "content": {"application/json": {"schema": error}}});
        if status == 429 {
            // Sent with `rate_limited`; the other 429s (connection and transfer caps) have none.
            response["headers"] = json!({"Retry-After": {
                "description": "Whole seconds to wait before the next request (with `rate_limited`)",
                "schema": {"type": "integer", "minimum": 1},
            }});
        }
        responses.insert(status.to_string(), response);
    }
    Value::Object(responses)
}

fn reason(status: u16) -> &'static str {
    warp::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::endpoint::{FormField, QueryParam};

    #[derive(serde::Deserialize, schemars::JsonSchema)]
    #[allow(dead_code)]
    struct Body {
        to: String,
    }

    static JSON_ROUTE: Endpoint = Endpoint {
        tag: "messages",
        access: Access::Instance,
        request: Request::Json(schema::<Body>),
        query: &[QueryParam {
            name: "format",
            description: "",
            values: &["png"],
        }],
        errors: &[503],
        ..Endpoint::new(Verb::Post, "/api/send/{id}", "send", Answer::Json(201, schema::<Body>))
    };
    static FORM_ROUTE: Endpoint = Endpoint {
        request: Request::Multipart(&[FormField {
            name: "file",
            required: true,
            file: true,
            description: "",
        }]),
        ..Endpoint::new(Verb::Post, "/api/send/{id}/media", "upload", Answer::Binary)
    };

    #[test]
    fn the_document_describes_each_endpoint_with_its_schemas_and_errors() {
        let doc = document(&[&JSON_ROUTE, &FORM_ROUTE, &OPENAPI]);
        let send = &doc["paths"]["/api/send/{id}"]["post"];
        assert_eq!(send["operationId"], "send");
        assert_eq!(send["parameters"][0]["name"], "id");
        assert_eq!(send["parameters"][0]["in"], "path");
        assert_eq!(send["parameters"][1]["schema"]["enum"], json!(["png"]));
        assert_eq!(
            send["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/Body"
        );
        assert_eq!(
            send["responses"]["201"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/Body"
        );
        for status in ["400", "401", "403", "404", "413", "415", "422", "429", "503"] {
            assert_eq!(
                send["responses"][status]["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/ErrorBody",
                "{status}"
            );
        }
        assert_eq!(send["security"], json!([{"bearer": []}]));
        assert_eq!(doc["components"]["schemas"]["Body"]["required"], json!(["to"]));
        let upload = &doc["paths"]["/api/send/{id}/media"]["post"];
        assert_eq!(
            upload["requestBody"]["content"]["multipart/form-data"]["schema"]["required"],
            json!(["file"])
        );
        assert_eq!(doc["paths"]["/openapi.json"]["get"]["security"], json!([]));
        assert_eq!(
            send["responses"]["429"]["headers"]["Retry-After"]["schema"]["minimum"],
            json!(1)
        );
        assert!(doc["paths"]["/openapi.json"]["get"]["responses"]["429"].is_null());
    }
}
