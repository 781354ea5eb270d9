//! Conformance of the send queue's batched writes (`insert_send_batch_within`,
//! `mark_send_jobs_sending`, `release_send_jobs`, `mark_send_job_sent`) and of
//! a sent message recorded with its content in one statement: the same on
//! SQLite and PostgreSQL.

use wasap::store::send_jobs::NewJob;
use wasap::store::sent_content::{ContentError, MAX_SENT_CONTENT_BYTES};

use crate::fixtures::{fresh, instance};

fn job<'a>(request: &'a str, batch_id: Option<&'a str>) -> NewJob<'a> {
    NewJob {
        instance_id: "shop",
        kind: "text",
        request,
        send_at: None,
        due_at: 1_000,
        now_ms: 1_000,
        batch_id,
    }
}

#[tokio::test]
async fn a_batch_is_stored_in_order_and_the_bound_spares_or_forces_a_count() {
    let (_db, store) = fresh().await;
    instance(&store, "shop", "online").await;
    let requests: Vec<String> = (0..5)
        .map(|n| format!(r#"{{"to":"62811","message":"m{n}"}}"#))
        .collect();
    let jobs: Vec<NewJob<'_>> = requests.iter().map(|r| job(r, Some("b1"))).collect();

    // No bound: counted (0 waiting), stored, the bound after is 5.
    let (ids, bound) = store
        .insert_send_batch_within("shop", &jobs, 10, None)
        .await
        .unwrap()
        .expect("room for 5");
    assert_eq!(bound, 5);
    assert_eq!(ids.len(), 5);
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids in order: {ids:?}");
    for (id, request) in ids.iter().zip(&requests) {
        let row = store.send_job("shop", *id).await.unwrap().unwrap();
        assert_eq!(&row.request, request, "job {id} holds the request given in its place");
        assert_eq!(row.batch_id.as_deref(), Some("b1"));
        assert_eq!(row.status, "queued");
    }

    // A bound that leaves no room makes the store count (5 waiting): 5 more
    // do not fit under 9, and nothing is stored.
    assert!(
        store
            .insert_send_batch_within("shop", &jobs, 9, Some(5))
            .await
            .unwrap()
            .is_none()
    );
    // A bound too high to fit, while the real count does fit: the count wins.
    let (_, bound) = store
        .insert_send_batch_within("shop", &jobs[..2], 7, Some(6))
        .await
        .unwrap()
        .expect("the count (5) leaves room for 2 under 7");
    assert_eq!(bound, 7);
    // The plain form counts every time.
    assert!(store.insert_send_batch("shop", &jobs[..1], 7).await.unwrap().is_none());
}

#[tokio::test]
async fn a_run_is_marked_sending_at_once_and_the_untried_go_back_uncounted() {
    let (_db, store) = fresh().await;
    instance(&store, "shop", "online").await;
    let requests: Vec<String> = (0..3)
        .map(|n| format!(r#"{{"to":"62811","message":"r{n}"}}"#))
        .collect();
    let jobs: Vec<NewJob<'_>> = requests.iter().map(|r| job(r, None)).collect();
    let ids = store.insert_send_batch("shop", &jobs, 100).await.unwrap().unwrap();
    // The second was cancelled meanwhile: it is not marked.
    assert!(
        store
            .move_send_job(ids[1], &["queued"], "cancelled", None, None, 2_000)
            .await
            .unwrap()
    );
    let marks = [(ids[0], "3EB0A"), (ids[1], "3EB0B"), (ids[2], "3EB0C")];
    let marked = store.mark_send_jobs_sending(&marks, 3_000).await.unwrap();
    assert_eq!(marked, [true, false, true]);
    let first = store.send_job("shop", ids[0]).await.unwrap().unwrap();
    assert_eq!(
        (first.status.as_str(), first.message_id.as_deref(), first.attempts),
        ("sending", Some("3EB0A"), 1)
    );

    // The first went; the third was not tried: back to queued, its id kept,
    // its attempt not counted.
    assert!(store.mark_send_job_sent(ids[0], 4_000).await.unwrap());
    assert!(
        !store.mark_send_job_sent(ids[0], 4_001).await.unwrap(),
        "only a sending job is marked sent"
    );
    store.release_send_jobs(&[ids[2]], 4_000).await.unwrap();
    let sent = store.send_job("shop", ids[0]).await.unwrap().unwrap();
    assert_eq!((sent.status.as_str(), sent.sent_at), ("sent", Some(4_000)));
    let third = store.send_job("shop", ids[2]).await.unwrap().unwrap();
    assert_eq!(
        (third.status.as_str(), third.message_id.as_deref(), third.attempts),
        ("queued", Some("3EB0C"), 0)
    );
    // Releasing a job that is not sending changes nothing.
    store.release_send_jobs(&[ids[0], ids[1]], 5_000).await.unwrap();
    assert_eq!(store.send_job("shop", ids[0]).await.unwrap().unwrap().status, "sent");
    assert_eq!(
        store.send_job("shop", ids[1]).await.unwrap().unwrap().status,
        "cancelled"
    );
}

#[tokio::test]
async fn a_sent_message_is_recorded_with_its_content_or_without_one_too_large() {
    let (_db, store) = fresh().await;
    instance(&store, "shop", "online").await;
    let chat = "6281234567890@s.whatsapp.net";
    store
        .record_sent_with_content("shop", "3EB0KEPT", chat, "text", 1_700_000_000, r#"{"text":"hi"}"#)
        .await
        .unwrap();
    assert_eq!(
        store.sent_content("shop", "3EB0KEPT").await.unwrap().as_deref(),
        Some(r#"{"text":"hi"}"#)
    );
    assert!(store.was_sent("shop", "3EB0KEPT").await.unwrap());

    let huge = "x".repeat(MAX_SENT_CONTENT_BYTES + 1);
    let refused = store
        .record_sent_with_content("shop", "3EB0HUGE", chat, "text", 1_700_000_001, &huge)
        .await;
    assert!(matches!(refused, Err(ContentError::TooLarge)), "{refused:?}");
    assert!(
        store.was_sent("shop", "3EB0HUGE").await.unwrap(),
        "the record is kept without its content"
    );
    assert_eq!(store.sent_content("shop", "3EB0HUGE").await.unwrap(), None);
}
