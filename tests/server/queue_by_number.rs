//! The send queue by the instance's own number (docs/API.md, "Send queue"
//! and "Bulk sends"): a bulk send, a batch cancel and the job list under
//! `/api/by-number/{phone}` act on the instance whose number it is, exactly
//! as their `/api/queue/{id}` forms do, on both engines; like every by-number
//! route they take the admin token only, and a number no instance has is a 404.

use serde_json::{Value, json};
use wasap_tests::both_engines;
use wasap_tests::engines::{EngineUnderTest, OnlineShop};
use wasap_tests::send_queue::{Queue, SHOP, SHOP_PHONE, job_id};

const ANN: &str = "6281200000011";
const BO: &str = "6281200000012";

both_engines!(bulk_sends_batch_cancels_and_the_job_list_go_by_the_instances_number);

/// The job ids and statuses of a page of jobs.
fn ids_and_statuses(jobs: &[Value]) -> Vec<(i64, String)> {
    jobs.iter()
        .map(|j| (job_id(j), j["status"].as_str().unwrap_or_default().to_owned()))
        .collect()
}

async fn bulk_sends_batch_cancels_and_the_job_list_go_by_the_instances_number(engine: EngineUnderTest) {
    let OnlineShop {
        whatsapp,
        server,
        token,
        driver,
    } = OnlineShop::start(engine, SHOP_PHONE).await;
    for phone in [ANN, BO] {
        driver.contact(phone, true).await;
    }
    let admin = server.admin();
    let queue = Queue::of(&admin, SHOP);

    // Sent now, from `shop` (the number may carry its `+`).
    let (status, batch) = admin
        .post(
            &format!("/api/by-number/+{SHOP_PHONE}/bulk"),
            json!({ "template": "Hi {{name}}", "recipients": [
                { "to": ANN, "vars": { "name": "Ann" } },
                { "to": BO, "vars": { "name": "Bo" } },
            ] }),
        )
        .await;
    assert_eq!(status, 202, "{batch}");
    assert_eq!(batch["queued"], 2, "{batch}");
    let batch_id = batch["batch_id"].as_str().expect("a batch id").to_owned();
    for job in batch["jobs"].as_array().expect("jobs") {
        queue.wait_sent(job_id(job)).await;
    }
    for (phone, text) in [(ANN, "Hi Ann"), (BO, "Hi Bo")] {
        let got = driver.sent_to(phone, 1).await;
        let texts: Vec<Option<&str>> = got.iter().map(|m| m.text.as_deref()).collect();
        assert_eq!(texts, [Some(text)], "what {phone} got");
    }

    // The list by number is the instance's list, with the same filters.
    let (status, by_number) = admin
        .get(&format!("/api/by-number/{SHOP_PHONE}/queue?batch={batch_id}"))
        .await;
    assert_eq!(status, 200, "{by_number}");
    // (Receipts may move the jobs on meanwhile: the ids are compared.)
    let ids = |page: &Value| -> Vec<i64> { page["jobs"].as_array().expect("jobs").iter().map(job_id).collect() };
    let by_id = queue.page(&format!("batch={batch_id}")).await;
    assert_eq!(ids(&by_number), ids(&by_id));
    assert_eq!(ids(&by_number), ids(&batch), "{by_number}");
    let (status, page) = admin.get(&format!("/api/by-number/{SHOP_PHONE}/queue?limit=1")).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(ids(&page), ids(&by_id)[..1], "{page}");
    assert_eq!(page["next_after"], by_id["jobs"][0]["job_id"], "{page}");

    // Scheduled a day ahead, then cancelled by number before it goes.
    let tomorrow = wasap::clock::rfc3339_ms(wasap::clock::now_ms() + 24 * 3600 * 1000);
    let (status, later) = admin
        .post(
            &format!("/api/by-number/{SHOP_PHONE}/bulk"),
            json!({ "template": "Later, {{name}}", "send_at": tomorrow, "recipients": [
                { "to": ANN, "vars": { "name": "Ann" } },
                { "to": BO, "vars": { "name": "Bo" } },
            ] }),
        )
        .await;
    assert_eq!(status, 202, "{later}");
    let later_id = later["batch_id"].as_str().expect("a batch id").to_owned();
    let (status, cancelled) = admin
        .delete(&format!("/api/by-number/{SHOP_PHONE}/batches/{later_id}"))
        .await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled, json!({ "batch_id": later_id, "cancelled": 2 }));
    let statuses = ids_and_statuses(&queue.jobs(&format!("batch={later_id}")).await);
    let expected: Vec<(i64, String)> = later["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .map(|j| (job_id(j), "cancelled".to_owned()))
        .collect();
    assert_eq!(statuses, expected, "the id route sees them cancelled");
    let (status, again) = admin
        .delete(&format!("/api/by-number/{SHOP_PHONE}/batches/{later_id}"))
        .await;
    assert_eq!((status, again["cancelled"].as_u64()), (200, Some(0)), "{again}");

    // Refusals: a number no instance has, one that is no number, a batch
    // the instance has none of, and the instance's own token.
    let bulk = json!({ "template": "Hi", "recipients": [{ "to": ANN }] });
    let no_one = "6289999999999";
    for (number, status, code) in [(no_one, 404, "instance_not_found"), ("12", 422, "invalid_phone")] {
        let answers = [
            admin.post(&format!("/api/by-number/{number}/bulk"), bulk.clone()).await,
            admin
                .delete(&format!("/api/by-number/{number}/batches/{batch_id}"))
                .await,
            admin.get(&format!("/api/by-number/{number}/queue")).await,
        ];
        for (got, answer) in answers {
            assert_eq!(
                (got, answer["error"]["code"].as_str()),
                (status, Some(code)),
                "{number}: {answer}"
            );
        }
    }
    let (status, answer) = admin.delete(&format!("/api/by-number/{SHOP_PHONE}/batches/nope")).await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (404, Some("batch_not_found")),
        "{answer}"
    );
    let own = server.client(Some(&token));
    let answers = [
        own.post(&format!("/api/by-number/{SHOP_PHONE}/bulk"), bulk.clone())
            .await,
        own.delete(&format!("/api/by-number/{SHOP_PHONE}/batches/{batch_id}"))
            .await,
        own.get(&format!("/api/by-number/{SHOP_PHONE}/queue")).await,
    ];
    for (status, answer) in answers {
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (403, Some("forbidden")),
            "{answer}"
        );
    }
    let all = queue.jobs("").await;
    assert_eq!(all.len(), 4, "only the two batches were queued: {all:?}");
    whatsapp.assert_all_handled();
    server.stop().await;
}
