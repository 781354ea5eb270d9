//! Golden tests of `queue_job`, the send queue's job status events, which neither seed
//! document has: their payloads are wasap's own (see `sudevwa.rs` and `gowa.rs` for the
//! rules they follow), pinned in `tests/fixtures/queue_job/` so that changing one is a
//! deliberate edit of a fixture, not a side effect.

use serde_json::Value;
use wasap_events::{Event, EventKind, JobStatus, QueueJob, gowa, sudevwa};

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/queue_job/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// 2026-03-01T10:30:00Z.
const AT_S: i64 = 1_772_361_000;

fn event(job: QueueJob) -> Event {
    Event {
        id: "evt-1".into(),
        instance_id: "instance123".into(),
        at_us: AT_S * 1_000_000 + 500_000,
        kind: EventKind::QueueJob(job),
    }
}

fn sent_text() -> QueueJob {
    QueueJob {
        job_id: 42,
        status: JobStatus::Sent,
        kind: "text".into(),
        batch_id: None,
        message_id: Some("3EB0C431F2A9D1E7B5".into()),
        failure: None,
        to: Some("6281234567890".into()),
    }
}

fn failed_location_of_a_batch() -> QueueJob {
    QueueJob {
        job_id: 43,
        status: JobStatus::Failed,
        kind: "location".into(),
        batch_id: Some("promo-march".into()),
        message_id: Some("3EB0C431F2A9D1E7B6".into()),
        failure: Some("404: 6289999999999 is not on WhatsApp".into()),
        to: Some("6289999999999".into()),
    }
}

#[test]
fn sudevwa_gives_every_field_null_or_not() {
    assert_eq!(sudevwa::format(&event(sent_text())).unwrap(), fixture("sudevwa_sent"));
    assert_eq!(
        sudevwa::format(&event(failed_location_of_a_batch())).unwrap(),
        fixture("sudevwa_failed")
    );
}

#[test]
fn gowa_wraps_it_and_leaves_out_what_the_job_lacks() {
    assert_eq!(gowa::format(&event(sent_text())).unwrap(), fixture("gowa_sent"));
    assert_eq!(
        gowa::format(&event(failed_location_of_a_batch())).unwrap(),
        fixture("gowa_failed")
    );
}

#[test]
fn every_status_is_named_as_the_api_names_it() {
    for status in JobStatus::ALL {
        let job = QueueJob { status, ..sent_text() };
        let frame = sudevwa::format(&event(job.clone())).unwrap();
        assert_eq!(frame["data"]["status"], status.as_str());
        assert_eq!(JobStatus::parse(status.as_str()), Some(status));
        assert_eq!(gowa::format(&event(job)).unwrap()["payload"]["status"], status.as_str());
    }
}

#[test]
fn the_kind_is_opt_in_and_named_queue_job_or_queue_dot_job() {
    assert_eq!(EventKind::kind_name("queue.job"), Some("queue_job"));
    assert_eq!(EventKind::kind_name("queue_job"), Some("queue_job"));
    assert!(EventKind::OPT_IN.contains(&"queue_job"));
    let event = event(sent_text());
    let json = serde_json::to_value(&event).unwrap();
    assert_eq!(json["kind"]["type"], "queue_job");
    assert_eq!(serde_json::from_value::<Event>(json).unwrap(), event);
}
