//! The HTTP control API of the standalone simulator: a person (or a script)
//! pairs a client by pasting its QR payload, sends texts from contacts,
//! reads what contacts received, and unlinks or drops devices.
//!
//! | Route | Does |
//! |---|---|
//! | `GET /` | the WebSocket URL to give the client |
//! | `POST /pair` `{"phone","qr"}` | the phone scans the QR payload |
//! | `POST /send` `{"from","to","text"}` | a contact sends a text |
//! | `POST /send-media` `{"from","to","kind","base64","mime_type","caption"?,"file_name"?,"voice_note"?}` | a contact sends a file (`kind`: `image`, `video`, `audio`, `document`, `sticker`) |
//! | `GET /received-media/{phone}` | the media that account received, decrypted (`base64`) |
//! | `GET /received/{phone}` | what that account's phone decrypted |
//! | `GET /receipts/{phone}` | receipts clients sent to it |
//! | `GET /devices/{phone}` | its linked devices |
//! | `POST /unlink` `{"phone","device"}` | unlink a device from the phone |
//! | `POST /drop` `{"phone","device"}` | cut a device's connection |
//! | `POST /hold-acks` `{"phone","hold"}` | hold back (`true`) or release the acks of the messages the account's connections send; `{"held"}`: how many were held |
//! | `GET /connections` | open connections |
//! | `GET /unhandled` | stanzas the simulator did not handle |
//! | `POST /groups` `{"id","subject","creator","members"}` | a group is created |
//! | `GET /groups/{id}` | a group's subject and participants |
//! | `POST /group-send` `{"from","group","text"}` | a participant writes to the group |
//! | `POST /group-participants` `{"group","author","change","participants"}` | `add`, `remove`, `promote` or `demote` participants |
//! | `POST /receipt` `{"from","to","ids","type"?}` | a contact's `delivery` (default), `read` or `played` receipt |
//! | `POST /delete-for-me` `{"phone","chat","id","from_me"?,"participant"?}` | the phone deletes a message for itself |

use std::convert::Infallible;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::json;
use tokio::net::TcpListener;
use warp::http::StatusCode;
use warp::{Filter, Rejection, Reply};

use crate::Simulator;

mod kinds;

#[derive(Deserialize)]
struct Pair {
    phone: String,
    qr: String,
}

#[derive(Deserialize)]
struct SendText {
    from: String,
    to: String,
    text: String,
}

#[derive(Deserialize)]
struct SendMedia {
    from: String,
    to: String,
    base64: String,
    #[serde(flatten)]
    media: crate::OutgoingMedia,
}

#[derive(Deserialize)]
struct Device {
    phone: String,
    device: u16,
}

#[derive(Deserialize)]
struct HoldAcks {
    phone: String,
    hold: bool,
}

/// A JSON body, whatever content type the caller declared (so a bare
/// `curl -d` works).
fn json_body<T: serde::de::DeserializeOwned + Send>() -> impl Filter<Extract = (T,), Error = Rejection> + Clone {
    warp::body::content_length_limit(64 * 1024)
        .and(warp::body::bytes())
        .and_then(|body: bytes::Bytes| async move {
            serde_json::from_slice::<T>(&body).map_err(|_| warp::reject::custom(BadJson))
        })
}

#[derive(Debug)]
struct BadJson;

impl warp::reject::Reject for BadJson {}

/// Serves the control API on `listener` until the process ends.
pub async fn serve(sim: Arc<Simulator>, listener: TcpListener) {
    warp::serve(routes(sim)).incoming(listener).run().await;
}

/// The routes, over a shared simulator.
pub fn routes(sim: Arc<Simulator>) -> impl Filter<Extract = (warp::reply::Response,), Error = Infallible> + Clone {
    let sim = warp::any().map(move || sim.clone());
    let info = warp::path::end()
        .and(warp::get())
        .and(sim.clone())
        .map(|sim: Arc<Simulator>| ok(json!({ "ws_url": sim.ws_url() })));
    let pair = warp::path!("pair")
        .and(warp::post())
        .and(sim.clone())
        .and(json_body())
        .then(|sim: Arc<Simulator>, body: Pair| async move {
            match sim.phone(&body.phone).scan(&body.qr).await {
                Ok(linked) => ok(json!(linked)),
                Err(e) => error(e),
            }
        });
    let send = warp::path!("send")
        .and(warp::post())
        .and(sim.clone())
        .and(json_body())
        .then(|sim: Arc<Simulator>, body: SendText| async move {
            match sim.contact(&body.from).send_text(&body.to, &body.text).await {
                Ok(id) => ok(json!({ "id": id })),
                Err(e) => error(e),
            }
        });
    let send_media = warp::path!("send-media")
        .and(warp::post())
        .and(sim.clone())
        .and(warp::body::content_length_limit(64 * 1024 * 1024))
        .and(warp::body::bytes())
        .then(|sim: Arc<Simulator>, body: bytes::Bytes| async move {
            use base64::Engine as _;
            let Ok(SendMedia {
                from,
                to,
                base64,
                mut media,
            }) = serde_json::from_slice(&body)
            else {
                return reply(StatusCode::BAD_REQUEST, json!({ "error": "not a send-media body" }));
            };
            let Ok(data) = base64::engine::general_purpose::STANDARD.decode(base64.trim()) else {
                return reply(StatusCode::BAD_REQUEST, json!({ "error": "base64 is not base64" }));
            };
            media.data = data;
            match sim.contact(&from).send_media(&to, &media).await {
                Ok(id) => ok(json!({ "id": id })),
                Err(e) => error(e),
            }
        });
    let received_media = warp::path!("received-media" / String)
        .and(warp::get())
        .and(sim.clone())
        .map(|phone: String, sim: Arc<Simulator>| {
            use base64::Engine as _;
            match sim.contact(&phone).received_media() {
                Ok(all) => ok(json!(
                    all.into_iter()
                        .map(|(message, media)| json!({
                            "id": message.id,
                            "from": message.from,
                            "media": media,
                            "base64": base64::engine::general_purpose::STANDARD.encode(&media.data),
                        }))
                        .collect::<Vec<_>>()
                )),
                Err(e) => error(e),
            }
        });
    let received = warp::path!("received" / String)
        .and(warp::get())
        .and(sim.clone())
        .map(|phone: String, sim: Arc<Simulator>| ok(json!(sim.contact(&phone).received())));
    let receipts = warp::path!("receipts" / String)
        .and(warp::get())
        .and(sim.clone())
        .map(|phone: String, sim: Arc<Simulator>| ok(json!(sim.contact(&phone).receipts())));
    let devices = warp::path!("devices" / String)
        .and(warp::get())
        .and(sim.clone())
        .map(|phone: String, sim: Arc<Simulator>| ok(json!(sim.phone(&phone).devices())));
    let unlink = warp::path!("unlink")
        .and(warp::post())
        .and(sim.clone())
        .and(json_body())
        .map(
            |sim: Arc<Simulator>, body: Device| match sim.unlink(&body.phone, body.device) {
                Ok(()) => ok(json!({ "unlinked": true })),
                Err(e) => error(e),
            },
        );
    let drop = warp::path!("drop")
        .and(warp::post())
        .and(sim.clone())
        .and(json_body())
        .map(|sim: Arc<Simulator>, body: Device| {
            ok(json!({ "dropped": sim.drop_connection(&body.phone, body.device) }))
        });
    let hold_acks = warp::path!("hold-acks")
        .and(warp::post())
        .and(sim.clone())
        .and(json_body())
        .map(|sim: Arc<Simulator>, body: HoldAcks| {
            ok(json!({ "held": sim.hold_message_acks(&body.phone, body.hold) }))
        });
    let connections = warp::path!("connections")
        .and(warp::get())
        .and(sim.clone())
        .map(|sim: Arc<Simulator>| ok(json!(sim.connections())));
    let unhandled = warp::path!("unhandled")
        .and(warp::get())
        .and(sim.clone())
        .map(|sim: Arc<Simulator>| ok(json!(sim.unhandled())));
    // Boxed in two halves: one chain of every route is a type deep enough to
    // overflow the compiler's recursion limit in a release build.
    let first = info
        .or(pair)
        .unify()
        .or(send)
        .unify()
        .or(send_media)
        .unify()
        .or(received_media)
        .unify()
        .or(unlink)
        .unify()
        .boxed();
    first
        .or(drop)
        .unify()
        .or(hold_acks)
        .unify()
        .or(received)
        .unify()
        .or(receipts)
        .unify()
        .or(devices)
        .unify()
        .or(connections)
        .unify()
        .or(unhandled)
        .unify()
        .or(kinds::routes(sim).boxed())
        .unify()
        .recover(rejected)
        .unify()
}

fn ok(body: serde_json::Value) -> warp::reply::Response {
    reply(StatusCode::OK, body)
}

fn reply(status: StatusCode, body: serde_json::Value) -> warp::reply::Response {
    warp::reply::with_status(warp::reply::json(&body), status).into_response()
}

fn error(e: crate::SimError) -> warp::reply::Response {
    reply(StatusCode::BAD_REQUEST, json!({ "error": e.to_string() }))
}

async fn rejected(r: Rejection) -> Result<warp::reply::Response, Infallible> {
    let status = if r.is_not_found() {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::BAD_REQUEST
    };
    Ok(reply(status, json!({ "error": format!("{r:?}") })))
}
