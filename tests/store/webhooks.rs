//! Conformance of the webhooks table and the delivery outbox (`Store::*webhook*`,
//! `Store::*deliver*`): the same behaviour on SQLite and PostgreSQL.

use wasap::clock::now_ms as unix_now_ms;
use wasap::store::deliveries::{AttemptResult, DeliveryFilter, DeliveryStatus, NewDelivery};
use wasap::store::webhooks::{MAX_WEBHOOKS_PER_INSTANCE, PRIMARY_EVENTS, WebhookInsert, WebhookRow};

use crate::fixtures::{fresh, instance};

fn delivery(id: &str, webhook: &str, event: &str, url: &str) -> NewDelivery {
    NewDelivery {
        id: id.to_owned(),
        webhook_id: webhook.to_owned(),
        instance_id: Some("shop".to_owned()),
        event_id: event.to_owned(),
        event_kind: "message".to_owned(),
        url: url.to_owned(),
        format: "sudevwa".to_owned(),
        content_type: "application/json".to_owned(),
        headers: vec![("X-Extra".to_owned(), "1".to_owned())],
        payload: b"{\"event\":\"incoming_message\"}".to_vec(),
    }
}

fn ids(rows: &[wasap::store::deliveries::DeliveryRow]) -> Vec<&str> {
    rows.iter().map(|r| r.id.as_str()).collect()
}

#[tokio::test]
async fn webhooks_are_stored_per_instance_with_one_primary() {
    let (_db, store) = fresh().await;
    instance(&store, "shop", "qr_required").await;
    store
        .set_primary_webhook("shop", "https://a/1", "s1", "p1")
        .await
        .unwrap();
    store
        .set_primary_webhook("shop", "https://a/2", "s2", "p2")
        .await
        .unwrap();
    let hook = WebhookRow {
        id: "w1".to_owned(),
        instance_id: "shop".to_owned(),
        url: "https://b/".to_owned(),
        secret: "s3".to_owned(),
        format: "gowa".to_owned(),
        events: vec!["receipt".to_owned()],
        enabled: true,
        is_primary: false,
    };
    assert_eq!(store.insert_webhook(&hook).await.unwrap(), WebhookInsert::Inserted);
    let list = store.list_webhooks("shop").await.unwrap();
    assert_eq!(list.len(), 2, "the primary is replaced, not added: {list:#?}");
    assert_eq!(
        (list[0].id.as_str(), list[0].url.as_str(), list[0].is_primary),
        ("p1", "https://a/2", true)
    );
    assert_eq!(list[0].events, PRIMARY_EVENTS.map(String::from));
    assert_eq!(list[1], hook);
    assert_eq!(store.webhook_secret("p1").await.unwrap().as_deref(), Some("s2"));
    assert_eq!(
        store.webhooks_for("shop", "gowa").await.unwrap(),
        std::slice::from_ref(&hook)
    );
    assert!(store.webhooks_for("other", "gowa").await.unwrap().is_empty());

    for n in 2..MAX_WEBHOOKS_PER_INSTANCE + 1 {
        let more = WebhookRow {
            id: format!("w{n}"),
            ..hook.clone()
        };
        let expected = if n < MAX_WEBHOOKS_PER_INSTANCE {
            WebhookInsert::Inserted
        } else {
            WebhookInsert::TooMany
        };
        assert_eq!(store.insert_webhook(&more).await.unwrap(), expected, "webhook {n}");
    }
    assert!(
        !store.delete_webhook("other", "w1").await.unwrap(),
        "only the instance's own"
    );
    assert!(store.delete_webhook("shop", "w1").await.unwrap());
    assert_eq!(store.webhook_secret("w1").await.unwrap(), None);
    // Deleting the instance takes its webhooks along.
    assert!(store.delete_instance("shop").await.unwrap());
    assert!(store.list_webhooks("shop").await.unwrap().is_empty());
}

#[tokio::test]
async fn the_outbox_queues_once_per_receiver_and_event() {
    let (_db, store) = fresh().await;
    assert!(
        store
            .enqueue_delivery(&delivery("d1", "w1", "e1", "https://a/"))
            .await
            .unwrap()
    );
    assert!(
        !store
            .enqueue_delivery(&delivery("d2", "w1", "e1", "https://a/"))
            .await
            .unwrap(),
        "same receiver, same event"
    );
    assert!(
        store
            .enqueue_delivery(&delivery("d3", "w2", "e1", "https://b/"))
            .await
            .unwrap()
    );
    let row = store.get_delivery("d1").await.unwrap().unwrap();
    assert_eq!(
        (row.status.as_str(), row.attempts, row.header_pairs()),
        ("pending", 0, vec![("X-Extra".to_owned(), "1".to_owned())])
    );
    assert_eq!(row.payload, b"{\"event\":\"incoming_message\"}");
    assert_eq!(store.get_delivery("d2").await.unwrap(), None);
}

#[tokio::test]
async fn due_deliveries_are_read_receiver_by_receiver_and_never_early() {
    let (_db, store) = fresh().await;
    for (id, url) in [
        ("d1", "https://a/"),
        ("d2", "https://a/"),
        ("d3", "https://b/"),
        ("d4", "https://c/"),
    ] {
        store
            .enqueue_delivery(&delivery(id, &format!("w-{id}"), "e", url))
            .await
            .unwrap();
    }
    let now = unix_now_ms() + 1;
    assert_eq!(
        store.due_delivery_urls(now, None, 10).await.unwrap(),
        ["https://a/", "https://b/", "https://c/"]
    );
    assert_eq!(
        store.due_delivery_urls(now, None, 2).await.unwrap(),
        ["https://a/", "https://b/"],
        "bounded"
    );
    assert_eq!(
        store.due_delivery_urls(now, Some("https://b/"), 10).await.unwrap(),
        ["https://c/"],
        "after a cursor"
    );
    assert_eq!(
        ids(&store.due_deliveries_to("https://a/", now, 10).await.unwrap()),
        ["d1", "d2"]
    );
    assert_eq!(
        ids(&store.due_deliveries_to("https://a/", now, 1).await.unwrap()),
        ["d1"],
        "bounded"
    );
    assert!(store.due_deliveries_to("https://z/", now, 10).await.unwrap().is_empty());

    // A retry waits for its time; the worker sleeps until the earliest.
    let later = now + 60_000;
    assert_eq!(store.next_delivery_due_after(now).await.unwrap(), None);
    store
        .record_attempt(
            "d4",
            1,
            &AttemptResult::Retry {
                error: "HTTP 500".into(),
                next_attempt_ms: later,
            },
        )
        .await
        .unwrap();
    assert!(store.due_deliveries_to("https://c/", now, 10).await.unwrap().is_empty());
    assert!(
        !store
            .due_delivery_urls(now, None, 10)
            .await
            .unwrap()
            .contains(&"https://c/".to_owned())
    );
    assert!(
        store
            .due_deliveries_to("https://c/", later, 10)
            .await
            .unwrap()
            .iter()
            .any(|r| r.id == "d4" && r.attempts == 1)
    );
    assert_eq!(store.next_delivery_due_after(now).await.unwrap(), Some(later));
}

#[tokio::test]
async fn outbox_writes_take_batches() {
    let (_db, store) = fresh().await;
    let batch: Vec<NewDelivery> = (0..450)
        .map(|n| delivery(&format!("b{n}"), "w1", &format!("e{n}"), "https://a/"))
        .collect();
    let mut inserted = store.enqueue_deliveries(&batch).await.unwrap();
    assert_eq!(inserted.len(), 450, "more rows than one statement takes");
    // The same events again, plus one new: only the new one is stored.
    let mut again = batch[..10].to_vec();
    again.push(delivery("b-new", "w1", "e-new", "https://a/"));
    assert_eq!(store.enqueue_deliveries(&again).await.unwrap(), ["b-new"]);

    inserted.sort();
    let numbers: Vec<(String, i64)> = inserted.iter().map(|id| (id.clone(), 1)).collect();
    store.start_attempts(&numbers).await.unwrap();
    assert_eq!(
        store.get_delivery("b7").await.unwrap().unwrap().attempts,
        1,
        "counted before the attempt"
    );
    let later = unix_now_ms() + 60_000;
    let results: Vec<(String, i64, AttemptResult)> = inserted
        .iter()
        .enumerate()
        .map(|(n, id)| {
            let result = match n % 3 {
                0 => AttemptResult::Delivered,
                1 => AttemptResult::Retry {
                    error: "HTTP 503".into(),
                    next_attempt_ms: later,
                },
                _ => AttemptResult::Failed { error: "gone".into() },
            };
            (id.clone(), 1, result)
        })
        .collect();
    store.record_attempts(&results).await.unwrap();
    for (id, _, result) in &results {
        let row = store.get_delivery(id).await.unwrap().unwrap();
        let expected = match result {
            AttemptResult::Delivered => ("delivered", None),
            AttemptResult::Retry { .. } => ("pending", Some("HTTP 503")),
            AttemptResult::Failed { .. } => ("failed", Some("gone")),
        };
        assert_eq!((row.status.as_str(), row.last_error.as_deref()), expected, "{id}");
        assert_eq!(row.attempts, 1);
    }
    assert_eq!(store.next_delivery_due_after(unix_now_ms()).await.unwrap(), Some(later));
}

#[tokio::test]
async fn attempts_end_delivered_or_failed_and_failed_ones_can_be_retried() {
    let (_db, store) = fresh().await;
    store
        .enqueue_delivery(&delivery("ok", "w1", "e1", "https://a/"))
        .await
        .unwrap();
    store
        .enqueue_delivery(&delivery("bad", "w1", "e2", "https://a/"))
        .await
        .unwrap();
    store.record_attempt("ok", 1, &AttemptResult::Delivered).await.unwrap();
    store
        .record_attempt(
            "bad",
            5,
            &AttemptResult::Failed {
                error: "x".repeat(2000),
            },
        )
        .await
        .unwrap();
    let bad = store.get_delivery("bad").await.unwrap().unwrap();
    assert_eq!((bad.status.as_str(), bad.attempts), ("failed", 5));
    assert_eq!(
        bad.last_error.as_ref().map(String::len),
        Some(500),
        "errors are kept bounded"
    );
    assert!(
        store
            .due_delivery_urls(unix_now_ms() + 1, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.next_delivery_due_after(0).await.unwrap(), None);

    let filter = |status, instance: Option<&str>| DeliveryFilter {
        status,
        instance_id: instance.map(str::to_owned),
        limit: 10,
    };
    let failed = store
        .list_deliveries(&filter(Some(DeliveryStatus::Failed), None))
        .await
        .unwrap();
    assert_eq!(ids(&failed), ["bad"]);
    assert_eq!(
        store.list_deliveries(&filter(None, Some("shop"))).await.unwrap().len(),
        2
    );
    assert!(
        store
            .list_deliveries(&filter(None, Some("other")))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .list_deliveries(&DeliveryFilter {
                limit: 1,
                ..filter(None, None)
            })
            .await
            .unwrap()
            .len(),
        1
    );

    assert!(
        !store.retry_delivery("ok").await.unwrap(),
        "only failed deliveries go back"
    );
    assert!(store.retry_delivery("bad").await.unwrap());
    let bad = store.get_delivery("bad").await.unwrap().unwrap();
    assert_eq!((bad.status.as_str(), bad.attempts), ("pending", 0));
    assert_eq!(
        ids(&store
            .due_deliveries_to("https://a/", unix_now_ms() + 1, 10)
            .await
            .unwrap()),
        ["bad"]
    );

    // Rows are pruned by status, only those old enough, and pending ones never.
    assert_eq!(store.prune_deliveries("delivered", 0, 100).await.unwrap(), 0);
    let later = unix_now_ms() / 1000 + 10;
    assert_eq!(store.prune_deliveries("delivered", later, 100).await.unwrap(), 1);
    assert_eq!(store.get_delivery("ok").await.unwrap(), None);
    assert_eq!(store.prune_deliveries("pending", later, 100).await.unwrap(), 0);
    assert_eq!(store.prune_deliveries("failed", later, 100).await.unwrap(), 0);
    assert!(
        store.get_delivery("bad").await.unwrap().is_some(),
        "a pending row stays"
    );
    store
        .record_attempt("bad", 1, &AttemptResult::Failed { error: "x".into() })
        .await
        .unwrap();
    assert_eq!(store.prune_deliveries("failed", 0, 100).await.unwrap(), 0);
    assert_eq!(store.prune_deliveries("failed", later, 100).await.unwrap(), 1);
    assert_eq!(store.get_delivery("bad").await.unwrap(), None);
}
