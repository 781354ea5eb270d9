//! Comparing what an instance's outputs said in two runs of one test, on the
//! sim engine and on the real one: the canonical events, the webhook bodies
//! in each format, the WebSocket frames. Ids and times are the only things
//! allowed to differ; everything else must match byte for byte.
//!
//! A test records each body with [`Transcript::record`], which makes it
//! [`comparable`], then asserts one run's transcript equals the other's.

use std::collections::BTreeMap;

use serde_json::Value;

/// The webhook secret of the sudevwa seed document's example: tests sign
/// with it so a delivery can be checked against the seed's own signature.
pub const SUDEVWA_SECRET: &str = "5513de0882c755985f4bb358e5cf027cb10e48a23a377cf77888e310b74aef21";
/// The webhook secret of the gowa seed document's example.
pub const GOWA_SECRET: &str = "your-secret-key";

/// The JSON keys whose values are times.
const TIME_KEYS: &[&str] = &["timestamp", "at_us"];
/// The JSON keys whose values are positions in the instance's journal.
const CURSOR_KEYS: &[&str] = &["cursor"];

/// `raw` (a JSON text) with what legitimately differs between runs replaced:
/// each of `ids` (message and event ids, in the order the test learnt them)
/// where it is a whole JSON string, by `<id:N>`, its index there, the value of every `"timestamp"` and
/// `"at_us"` key by `"<time>"`, once checked to be a plausible time, and a
/// frame's journal `"cursor"` by `"<cursor>"`. Every other byte stays as it
/// was.
pub fn comparable(raw: &str, ids: &[String]) -> String {
    let mut text = raw.to_owned();
    // Whole JSON strings only: a short id may begin a longer one.
    for (n, id) in ids.iter().enumerate() {
        if !id.is_empty() {
            text = text.replace(&format!("\"{id}\""), &format!("\"<id:{n}>\""));
        }
    }
    for key in TIME_KEYS {
        text = replace_values(&text, key, "<time>", plausible_time);
    }
    for key in CURSOR_KEYS {
        text = replace_values(&text, key, "<cursor>", |_| true);
    }
    text
}

/// Replaces the scalar value of every `"key":` in `text` by `"marker"`,
/// once `check` accepted it.
fn replace_values(text: &str, key: &str, marker: &str, check: fn(&str) -> bool) -> String {
    let pattern = format!("\"{key}\":");
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(&pattern) {
        let (head, tail) = rest.split_at(at + pattern.len());
        out.push_str(head);
        let tail = tail.trim_start();
        let end = if let Some(quoted) = tail.strip_prefix('"') {
            quoted.find('"').map_or(tail.len(), |i| i + 2)
        } else {
            tail.find([',', '}', ']']).unwrap_or(tail.len())
        };
        let value = &tail[..end];
        assert!(check(value), "{key} is not as expected: {value} in {text}");
        out.push('"');
        out.push_str(marker);
        out.push('"');
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// Unix seconds or microseconds after 2020, or an RFC 3339 time.
fn plausible_time(value: &str) -> bool {
    match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(text) => text.len() >= 20 && text.starts_with("20") && text.contains('T'),
        None => value.parse::<i64>().is_ok_and(|t| t > 1_577_836_800),
    }
}

/// What one run's outputs said: per output (a name of the test's choosing,
/// such as `canonical`, `/gowa` or `listen`), its bodies made
/// [`comparable`], sorted, since outputs deliver concurrently and their
/// order is no part of the contract.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Transcript {
    outputs: BTreeMap<String, Vec<String>>,
}

impl Transcript {
    pub fn new() -> Transcript {
        Transcript::default()
    }

    /// Records one body `raw` of `output`.
    pub fn record(&mut self, output: &str, raw: &str, ids: &[String]) {
        let bodies = self.outputs.entry(output.to_owned()).or_default();
        bodies.push(comparable(raw, ids));
        bodies.sort();
    }

    /// The comparable bodies of `output`.
    pub fn bodies(&self, output: &str) -> &[String] {
        self.outputs.get(output).map_or(&[], Vec::as_slice)
    }

    /// Asserts this run said exactly what the `reference` run (the sim
    /// engine's) said, output by output and body by body.
    ///
    /// The phone/LID pairs are left out of the comparison: the real client
    /// learns every account's LID from the protocol simulator's traffic,
    /// while the sim engine knows only the LIDs a test registers, so the two
    /// engines may rightly know different pairs. `tests/server/lid_pairs.rs`
    /// checks the pairs exactly on both engines.
    pub fn assert_same_as(&self, reference: &Transcript) {
        let names = |t: &Transcript| t.outputs.keys().cloned().collect::<Vec<_>>();
        assert_eq!(names(self), names(reference), "the same outputs");
        let without_pairs = |bodies: &[String]| {
            let mut bodies: Vec<String> = bodies.iter().map(|b| without_lid_pairs(b)).collect();
            bodies.sort();
            bodies
        };
        for (output, bodies) in &self.outputs {
            let bodies = &without_pairs(bodies);
            let expected = &without_pairs(&reference.outputs[output]);
            for body in bodies {
                assert!(
                    expected.contains(body),
                    "{output}: this body has no equal on the sim engine:\n{body}\nthere:\n{}",
                    expected.join("\n")
                );
            }
            assert_eq!(bodies, expected, "{output}: the same bodies as on the sim engine");
        }
    }
}

/// The fields that carry an account's other name (LID or phone number),
/// in every format and the canonical shape.
const LID_PAIR_FIELDS: &[&str] = &[
    "from_lid",
    "chat_lid",
    "chat_phone",
    "sender_lid",
    "sender_phone",
    "participants",
];

/// `body` without [`LID_PAIR_FIELDS`], at any depth; a body that is not
/// JSON as it is.
fn without_lid_pairs(body: &str) -> String {
    fn strip(value: &mut Value) {
        match value {
            Value::Object(map) => {
                map.retain(|key, _| !LID_PAIR_FIELDS.contains(&key.as_str()));
                map.values_mut().for_each(strip);
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    match serde_json::from_str::<Value>(body) {
        Ok(mut value) => {
            strip(&mut value);
            value.to_string()
        }
        Err(_) => body.to_owned(),
    }
}

/// Points instance `id`'s webhooks at `receiver` in both seed formats: the
/// primary webhook (sudevwa) at `/sudevwa`, a second one (gowa) at `/gowa`,
/// each signed with its seed's example secret.
pub async fn webhooks_in_both_formats(
    server: &crate::TestServer,
    id: &str,
    receiver: &crate::webhook_receiver::WebhookReceiver,
) {
    let (status, answer) = server
        .admin()
        .post(
            &format!("/api/instances/{id}/webhook-setconfig"),
            serde_json::json!({ "url": receiver.url("/sudevwa"), "secret": SUDEVWA_SECRET }),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = server
        .admin()
        .post(
            &format!("/api/instances/{id}/webhooks"),
            serde_json::json!({ "url": receiver.url("/gowa"), "secret": GOWA_SECRET, "format": "gowa" }),
        )
        .await;
    assert_eq!(status, 201, "{answer}");
}

/// Keeps what varies from run to run out of a comparison: the time fields,
/// checked for shape and replaced by a marker.
pub fn without_times(mut value: Value) -> Value {
    fn walk(value: &mut Value) {
        match value {
            Value::Object(map) => {
                for (key, field) in map.iter_mut() {
                    if key == "timestamp" {
                        let plausible = field.as_i64().is_some_and(|t| t > 1_600_000_000)
                            || field.as_str().is_some_and(|t| t.len() >= 20 && t.starts_with("20"));
                        assert!(plausible, "a timestamp: {field}");
                        *field = serde_json::json!("<time>");
                    } else {
                        walk(field);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut value);
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_times_are_the_only_differences() {
        let ids = vec!["3EB0AA".to_owned(), "ev1".to_owned(), "3EB0".to_owned()];
        let raw = r#"{"cursor":"42","id":"ev1","at_us":1765000000123456,"data":{"message_id":"3EB0AA","timestamp":"2025-12-08T13:57:04.147255Z","setting_timestamp":7,"t":{"timestamp":1765000000}}}"#;
        assert_eq!(
            comparable(raw, &ids),
            r#"{"cursor":"<cursor>","id":"<id:1>","at_us":"<time>","data":{"message_id":"<id:0>","timestamp":"<time>","setting_timestamp":7,"t":{"timestamp":"<time>"}}}"#
        );
    }

    #[test]
    #[should_panic(expected = "timestamp is not as expected")]
    fn a_time_that_is_not_one_fails() {
        comparable(r#"{"timestamp":12}"#, &[]);
    }
}
