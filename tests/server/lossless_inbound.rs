//! The lossless inbound path, black-box (issue 18): every message that reaches
//! wasap reaches the webhook, through `kill -9` of the server's process in the
//! middle of a burst, a plugin that times out on every event, a chain stalled
//! while far more messages arrive than any queue holds, and a full disk; a
//! message handled twice carries the same `X-Wasap-Event-Id` both times.
//!
//! The kill tests run the server in a child process (`wasap_tests::child_server`)
//! on both engines: the sim engine's simulated server keeps what wasap has not
//! acknowledged in the database and delivers it again at the next login, the
//! loopback WhatsApp simulator of the real engine keeps it in its offline queue.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::json;
use tokio::sync::Mutex;
use wasap_tests::child_server::{ChildLog, ChildServer};
use wasap_tests::engines::{Driver, EngineUnderTest, TextSender, Whatsapp};
use wasap_tests::plugins::{PROBE, component, probe_manifest};
use wasap_tests::process_memory::rss_kib;
use wasap_tests::small_disk::SmallDisk;
use wasap_tests::webhook_receiver::{Received, WebhookReceiver};
use wasap_tests::{Api, TestDb, TestServer, WAIT, both_engines, data_dir, sim_config};

use crate::child;

pub(super) const INSTANCE: &str = "shop";
const PHONE: &str = "6289900000001";
pub(super) const CONTACT: &str = "6281234567890";

/// The text of message `n` of a test; [`number`] finds `n` in a delivery.
pub(super) fn text(n: usize) -> String {
    format!("lossless-{n:06}")
}

/// The message number a webhook delivery is about.
fn number(request: &Received) -> Option<usize> {
    let body = String::from_utf8_lossy(&request.body);
    let at = body.find("lossless-")? + "lossless-".len();
    body.get(at..at + 6)?.parse().ok()
}

/// Per message number, the event ids its deliveries carried.
pub(super) fn ids_by_number(received: &[Received]) -> BTreeMap<usize, BTreeSet<String>> {
    let mut ids: BTreeMap<usize, BTreeSet<String>> = BTreeMap::new();
    for request in received {
        if let Some(n) = number(request) {
            ids.entry(n).or_default().insert(request.event_id().to_owned());
        }
    }
    ids
}

/// Waits until every message of `expected` has reached the receiver; asserts
/// that each was one event (one id however often it came) and that nothing
/// arrived that was not sent (`maybe` were in flight when the server died:
/// they may or may not have reached it). Returns what arrived. When one never
/// comes, the failure says where it was last seen (`lookout`).
async fn all_delivered(
    receiver: &mut WebhookReceiver,
    lookout: Lookout<'_>,
    expected: &BTreeSet<usize>,
    maybe: &BTreeSet<usize>,
) -> BTreeMap<usize, BTreeSet<String>> {
    all_delivered_after(receiver, &mut Vec::new(), lookout, expected, maybe).await
}

/// [`all_delivered`] for a test that waits more than once: `so_far` holds
/// the receiver's requests taken before, and gains those taken now; all of
/// them count, and their event ids must agree too.
pub(super) async fn all_delivered_after(
    receiver: &mut WebhookReceiver,
    so_far: &mut Vec<Received>,
    lookout: Lookout<'_>,
    expected: &BTreeSet<usize>,
    maybe: &BTreeSet<usize>,
) -> BTreeMap<usize, BTreeSet<String>> {
    let arrived = |all: &[Received]| ids_by_number(all).keys().copied().collect::<BTreeSet<usize>>();
    if !receiver
        .extend_until(so_far, |all| arrived(all).is_superset(expected))
        .await
    {
        let missing: BTreeSet<usize> = expected.difference(&arrived(so_far)).copied().collect();
        panic!(
            "timed out waiting for every message at the webhook: {} of {} arrived; {}",
            expected.len() - missing.len(),
            expected.len(),
            lookout.explain(&missing).await
        )
    }
    let ids = ids_by_number(so_far);
    for (n, event_ids) in &ids {
        assert!(
            expected.contains(n) || maybe.contains(n),
            "message {n} was never sent, yet it arrived"
        );
        assert_eq!(
            event_ids.len(),
            1,
            "message {n} came as different events: {event_ids:?}"
        );
    }
    let distinct: BTreeSet<&String> = ids.values().flatten().collect();
    assert_eq!(distinct.len(), ids.len(), "two messages shared an event id");
    ids
}

/// Where a message that never reached the webhook was last seen: the
/// server's journal (`GET /events`), its deliveries, what the simulator
/// could not handle (a retry receipt, say), and what the child servers
/// logged (their warnings).
pub(super) struct Lookout<'a> {
    /// The real engine's simulator (none for an in-process sim server).
    whatsapp: Option<&'a Whatsapp>,
    api: Api,
    /// The logs of the child servers of the test, killed ones included.
    logs: Vec<ChildLog>,
}

impl<'a> Lookout<'a> {
    /// Where to look on the real or sim engine with a child `server`, and
    /// the log of the one `killed` before it.
    fn of_child(whatsapp: &'a Whatsapp, server: &ChildServer, killed: Option<ChildLog>) -> Lookout<'a> {
        Lookout::of_children(whatsapp, server, killed.into_iter().collect())
    }

    /// [`Lookout::of_child`] after several kills: the logs of every `killed` server.
    pub(super) fn of_children(whatsapp: &'a Whatsapp, server: &ChildServer, killed: Vec<ChildLog>) -> Lookout<'a> {
        Lookout {
            whatsapp: Some(whatsapp),
            api: server.admin(),
            logs: killed.into_iter().chain([server.log()]).collect(),
        }
    }

    /// One line per missing message, then the simulator's complaints.
    async fn explain(&self, missing: &BTreeSet<usize>) -> String {
        // The journal, oldest first: the event id of each missing message in it.
        let mut journalled: BTreeMap<usize, String> = BTreeMap::new();
        let mut after = String::new();
        for _page in 0..100 {
            let (status, body) = self
                .api
                .get(&format!("/api/instances/{INSTANCE}/events?limit=1000&after={after}"))
                .await;
            if status != 200 {
                return format!("the journal could not be read ({status}): {body}");
            }
            for entry in body["events"].as_array().into_iter().flatten() {
                let shown = entry["event"].to_string();
                let at = shown.find("lossless-").map(|at| at + "lossless-".len());
                let n = at.and_then(|at| shown.get(at..at + 6)).and_then(|n| n.parse().ok());
                if let Some(n) = n.filter(|n| missing.contains(n)) {
                    journalled.insert(n, entry["event"]["id"].as_str().unwrap_or("").to_owned());
                }
            }
            match body["next_cursor"].as_str() {
                Some(next) if body["has_more"] == true => after = next.to_owned(),
                _ => break,
            }
        }
        let (_, deliveries) = self
            .api
            .get(&format!("/api/deliveries?instance_id={INSTANCE}&limit=1000"))
            .await;
        let deliveries = deliveries["deliveries"].as_array().cloned().unwrap_or_default();
        let lines: Vec<String> = missing
            .iter()
            .map(|n| match journalled.get(n) {
                None => format!("message {n}: not in the journal"),
                Some(id) => {
                    let outbox: Vec<String> = deliveries
                        .iter()
                        .filter(|d| d["event_id"] == id.as_str())
                        .map(|d| format!("{} after {} attempt(s) {}", d["status"], d["attempts"], d["last_error"]))
                        .collect();
                    format!("message {n}: journalled as {id}, deliveries {outbox:?}")
                }
            })
            .collect();
        let logged: Vec<String> = self.logs.iter().flat_map(ChildLog::lines).collect();
        format!(
            "{}; the simulator did not handle {:?}; the servers logged:\n{}",
            lines.join("; "),
            self.whatsapp.map(Whatsapp::unhandled).unwrap_or_default(),
            logged.join("\n")
        )
    }
}

/// A child server's flags (`child::flags`), with webhooks to loopback
/// allowed and writes and webhooks retried fast.
pub(super) fn child_flags(whatsapp: &Whatsapp, db: &TestDb, dir: &Path) -> Vec<String> {
    let fast = [
        "--allow-private-urls",
        "--write-retry-max-ms",
        "200",
        "--webhook-backoff-ms",
        "100",
    ];
    child::flags(whatsapp, db, dir, &fast)
}

/// Puts the probe into the plugins directory of `dir` as `name`, with
/// `manifest` (the server loads it at start).
fn plugin(dir: &Path, name: &str, manifest: &str) {
    let plugins = dir.join("plugins.d");
    std::fs::create_dir_all(&plugins).expect("the plugins directory");
    std::fs::write(plugins.join(format!("{name}.toml")), manifest).expect("the manifest");
    std::fs::write(plugins.join(format!("{name}.wasm")), component(PROBE)).expect("the component");
}

/// The probe as a plugin that takes `ms` on every message and never fails.
fn slow_plugin(dir: &Path, ms: u32) {
    plugin(dir, "slow", &probe_manifest("slow", "slow", 100, &format!("ms = {ms}")));
}

/// Creates [`INSTANCE`] on `server`, links it as [`PHONE`], waits until it is
/// online and points its webhook at `receiver`'s `/hook`.
pub(super) async fn online(whatsapp: &Whatsapp, server: &ChildServer, receiver: &WebhookReceiver) -> Driver {
    let driver = child::online(whatsapp, server, INSTANCE, PHONE).await;
    let (status, body) = server
        .admin()
        .post(
            &format!("/api/instances/{INSTANCE}/webhook-setconfig"),
            json!({ "url": receiver.url("/hook") }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    driver
}

/// How many messages a test sends at once: the sim engine's route takes many
/// at a time; the simulator's contact encrypts one message after the other.
pub(super) fn concurrency(engine: EngineUnderTest) -> usize {
    match engine {
        EngineUnderTest::Sim => 32,
        EngineUnderTest::Real => 1,
    }
}

/// Sends messages `range` from `sender`, `concurrency` at a time, until done
/// or `stop` is set; the numbers WhatsApp took ([`TextSender::send`]) and
/// those it did not.
pub(super) async fn burst(
    sender: &TextSender,
    range: std::ops::Range<usize>,
    concurrency: usize,
    taken: Arc<AtomicUsize>,
) -> (BTreeSet<usize>, BTreeSet<usize>) {
    let next = Arc::new(Mutex::new(range));
    let results = Arc::new(Mutex::new((BTreeSet::new(), BTreeSet::new())));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (sender, next, results, taken) = (sender.clone(), next.clone(), results.clone(), taken.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let Some(n) = next.lock().await.next() else { return };
                let ok = sender.send(&text(n)).await;
                let mut results = results.lock().await;
                if ok {
                    results.0.insert(n);
                    taken.fetch_add(1, Ordering::SeqCst);
                } else {
                    results.1.insert(n);
                }
            }
        }));
    }
    for task in tasks {
        task.await.expect("a sending task");
    }
    std::mem::take(&mut *results.lock().await)
}

both_engines!(a_burst_cut_by_kill_9_reaches_the_webhook_after_the_restart);

/// A burst is under way: some messages journalled, some in the slow chain's
/// queues, some in flight (not yet acknowledged). `kill -9`, restart on the
/// same database: every message WhatsApp took reaches the webhook, each as
/// one event, with the same id on any repeat.
async fn a_burst_cut_by_kill_9_reaches_the_webhook_after_the_restart(engine: EngineUnderTest) {
    const TOTAL: usize = 600;
    const KILL_AFTER: usize = 300;
    let whatsapp = Whatsapp::start(engine).await;
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut receiver = WebhookReceiver::start().await;
    // 5 ms per message: the chain falls behind the burst at once.
    slow_plugin(dir.path(), 5);
    let flags = child_flags(&whatsapp, &db, dir.path());
    let server = child::start(&flags).await;
    let driver = online(&whatsapp, &server, &receiver).await;
    let sender = driver.text_sender(CONTACT).await;

    let taken = Arc::new(AtomicUsize::new(0));
    let sending = tokio::spawn({
        let (sender, taken) = (sender.clone(), taken.clone());
        async move { burst(&sender, 0..TOTAL, concurrency(engine), taken).await }
    });
    while taken.load(Ordering::SeqCst) < KILL_AFTER {
        assert!(!sending.is_finished(), "the burst ended before the kill");
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    // The chain is behind: journalled events are not all done. (On the real
    // engine the client may still be decrypting what the simulator counts
    // as sent, even after the simulator took the whole burst: wait for the
    // journal to lead, which the slow chain makes it do as soon as messages
    // come.)
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let journalled = server.admin().metric("wasap_inbound_journalled_total").await;
        let done = server.admin().metric("wasap_inbound_done_total").await;
        if done < journalled {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the chain kept up ({done} of {journalled} done): nothing was queued"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let killed_log = server.log();
    server.kill();
    let (sent, lost_with_the_server) = sending.await.expect("the burst");
    assert!(sent.len() >= KILL_AFTER);

    let server = child::start(&flags).await;
    let delivered = all_delivered(
        &mut receiver,
        Lookout::of_child(&whatsapp, &server, Some(killed_log)),
        &sent,
        &lost_with_the_server,
    )
    .await;
    eprintln!(
        "{engine:?}: {} taken before and during the kill, {} delivered, {} in flight at the kill",
        sent.len(),
        delivered.len(),
        lost_with_the_server.len()
    );
    server.kill();
    whatsapp.assert_all_handled();
}

/// The audit's case: a plugin that times out on every event at the default
/// limits, 1,500 incoming messages, then `kill -9`. All were accepted, and
/// on the old path all but one were lost; after a restart, all 1,500 reach
/// the webhook.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_that_times_out_1500_messages_and_kill_9_lose_nothing() {
    const TOTAL: usize = 1500;
    let whatsapp = Whatsapp::start(EngineUnderTest::Sim).await;
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut receiver = WebhookReceiver::start().await;
    // The probe spinning until the deadline stops it, at the default limits.
    let manifest = probe_manifest("sleepy", "sleep-loop", 100, "");
    let limits = manifest.find("[limits]").expect("the probe's manifest has limits");
    let config = manifest.find("[config]").expect("and a config");
    let manifest = format!("{}{}", &manifest[..limits], &manifest[config..]);
    plugin(dir.path(), "sleepy", &manifest);
    let flags = child_flags(&whatsapp, &db, dir.path());
    let server = child::start(&flags).await;
    let driver = online(&whatsapp, &server, &receiver).await;
    let sender = driver.text_sender(CONTACT).await;
    let (sent, refused) = burst(&sender, 0..TOTAL, 32, Arc::default()).await;
    assert!(refused.is_empty(), "every message was accepted: {refused:?}");
    let killed_log = server.log();
    server.kill();

    let server = child::start(&flags).await;
    all_delivered(
        &mut receiver,
        Lookout::of_child(&whatsapp, &server, Some(killed_log)),
        &sent,
        &BTreeSet::new(),
    )
    .await;
    server.kill();
}

both_engines!(a_stalled_chain_holds_bounded_memory_and_loses_none_of_8000_messages);

/// A slow plugin stalls the chain (10 events a second) while 8,000 messages
/// arrive, twice what the old bridge held before it dropped events: every
/// one is journalled (and acknowledged) meanwhile, the pipeline holds no more
/// than its documented bound in memory, the server's memory grows by little,
/// and once the plugin is disabled all 8,000 reach the webhook.
async fn a_stalled_chain_holds_bounded_memory_and_loses_none_of_8000_messages(engine: EngineUnderTest) {
    const TOTAL: usize = 8000;
    let whatsapp = Whatsapp::start(engine).await;
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut receiver = WebhookReceiver::start().await;
    slow_plugin(dir.path(), 100);
    let flags = child_flags(&whatsapp, &db, dir.path());
    let server = child::start(&flags).await;
    let driver = online(&whatsapp, &server, &receiver).await;
    let sender = driver.text_sender(CONTACT).await;
    // Warm: connections, caches, the plugins' instances.
    let (warm, _) = burst(&sender, 0..50, concurrency(engine), Arc::default()).await;
    let rss_before = rss_kib(server.pid());

    let (sent, refused) = burst(&sender, 50..TOTAL, concurrency(engine), Arc::default()).await;
    assert!(refused.is_empty(), "every message was taken: {} refused", refused.len());
    // All in the journal, though the chain has handled a handful (the real
    // engine decrypts them meanwhile: waited for as long as it makes progress).
    let mut journalled = 0.0;
    let mut deadline = tokio::time::Instant::now() + WAIT;
    while journalled < TOTAL as f64 {
        let now = server.admin().metric("wasap_inbound_journalled_total").await;
        if now > journalled {
            journalled = now;
            deadline = tokio::time::Instant::now() + WAIT;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "journalling stopped at {journalled} of {TOTAL}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let done = server.admin().metric("wasap_inbound_done_total").await;
    assert!(done < 1000.0, "the chain was not stalled: {done} done");
    // The writes are counted, each with at least one event.
    let writes = server.admin().metric("wasap_inbound_journal_writes_total").await;
    assert!(
        writes >= 1.0 && writes <= journalled,
        "{writes} journal writes for {journalled} events"
    );
    let peak = server.admin().metric("wasap_inbound_in_memory_peak").await;
    let bound = server
        .admin()
        .metric("wasap_inbound_in_memory_bound_per_instance")
        .await;
    let rss_after = rss_kib(server.pid());
    eprintln!(
        "{engine:?}: {TOTAL} messages with the chain stalled: at most {peak} events in memory (bound {bound}), \
         RSS {rss_before} KiB -> {rss_after} KiB"
    );
    assert!(peak <= bound, "{peak} events in memory, over the bound of {bound}");
    assert!(
        rss_after.saturating_sub(rss_before) < 96 * 1024,
        "memory grew from {rss_before} KiB to {rss_after} KiB"
    );

    let (status, body) = server.admin().post_empty("/api/plugins/slow/disable").await;
    assert_eq!(status, 200, "{body}");
    let mut expected = sent;
    expected.extend(warm);
    all_delivered(
        &mut receiver,
        Lookout::of_child(&whatsapp, &server, None),
        &expected,
        &BTreeSet::new(),
    )
    .await;
    server.kill();
    whatsapp.assert_all_handled();
}

/// A media message journalled but not yet downloaded when the server is
/// killed (its stage waits behind a stalled chain) is downloaded after the
/// restart from the ticket kept with its journal entry: it reaches the webhook
/// with its file stored, byte for byte, not with a download error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_media_download_cut_by_kill_9_resumes_after_the_restart() {
    use base64::Engine as _;
    const TEXTS: usize = 1200;
    let whatsapp = Whatsapp::start(EngineUnderTest::Sim).await;
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut receiver = WebhookReceiver::start().await;
    // 20 events a second: the chain's queue fills, and the stage waits
    // behind it with the images not downloaded.
    slow_plugin(dir.path(), 50);
    let flags = child_flags(&whatsapp, &db, dir.path());
    let server = child::start(&flags).await;
    let driver = online(&whatsapp, &server, &receiver).await;
    // The media fields are in the gowa format (the sudevwa one has none).
    let (status, body) = server
        .admin()
        .post(
            &format!("/api/instances/{INSTANCE}/webhooks"),
            json!({ "url": receiver.url("/gowa"), "format": "gowa" }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let sender = driver.text_sender(CONTACT).await;
    let (texts, refused) = burst(&sender, 0..TEXTS, 32, Arc::default()).await;
    assert!(refused.is_empty(), "every text was taken");
    let images: Vec<(usize, Vec<u8>)> = (TEXTS..TEXTS + 3)
        .map(|n| (n, format!("an image, number {n}").repeat(50).into_bytes()))
        .collect();
    for (n, bytes) in &images {
        server
            .sim(INSTANCE)
            .incoming(json!({
                "from": CONTACT, "kind": "image", "caption": text(*n),
                "media": { "base64": base64::engine::general_purpose::STANDARD.encode(bytes), "mime_type": "image/png" }
            }))
            .await;
    }
    let published = server.admin().metric("wasap_inbound_published_total").await;
    assert!(
        published < (TEXTS + 1) as f64,
        "the images were published (so downloaded) before the kill: {published}"
    );
    server.kill();

    let server = child::start(&flags).await;
    let (status, body) = server.admin().post_empty("/api/plugins/slow/disable").await;
    assert_eq!(status, 200, "{body}");
    let mut expected = texts;
    expected.extend(images.iter().map(|(n, _)| *n));
    let arrived_in = |all: &[Received], path: &str| -> BTreeSet<usize> {
        all.iter()
            .filter(|request| request.path == path)
            .filter_map(number)
            .collect()
    };
    let mut received = receiver
        .until("every message at both webhooks", |all| {
            arrived_in(all, "/hook").is_superset(&expected) && arrived_in(all, "/gowa").is_superset(&expected)
        })
        .await;
    received.retain(|request| request.path == "/gowa" && number(request).is_some_and(|n| n >= TEXTS));
    for (n, bytes) in &images {
        let delivery = received
            .iter()
            .find(|request| number(request) == Some(*n))
            .expect("the image's delivery");
        let body = String::from_utf8_lossy(&delivery.body);
        assert!(
            !body.contains("download_error"),
            "image {n} came without its file: {body}"
        );
        let at = body
            .find("statics/media/")
            .unwrap_or_else(|| panic!("image {n} has no stored file: {body}"));
        let path = &body[at..at + body[at..].find('"').expect("the path ends")];
        let response = reqwest::get(format!("{}/{path}", server.base()))
            .await
            .expect("GET the file");
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(
            response.bytes().await.unwrap().as_ref(),
            bytes.as_slice(),
            "image {n} byte for byte"
        );
    }
    // The journal's copy (GET /events, a replay) names the stored file too.
    let mut after = String::new();
    let mut journalled = BTreeMap::new();
    loop {
        let (status, page) = server
            .admin()
            .get(&format!("/api/instances/{INSTANCE}/events?limit=1000&after={after}"))
            .await;
        assert_eq!(status, 200, "{page}");
        for entry in page["events"].as_array().expect("events") {
            let event = entry["event"].to_string();
            if let Some(at) = event.find("lossless-")
                && let Some(Ok(n)) = event.get(at + 9..at + 15).map(str::parse::<usize>)
                && n >= TEXTS
            {
                journalled.insert(n, event);
            }
        }
        if page["has_more"] != true {
            break;
        }
        after = page["next_cursor"].as_str().expect("next_cursor").to_owned();
    }
    for (n, _) in &images {
        let event = journalled.get(n).unwrap_or_else(|| panic!("image {n} in the journal"));
        assert!(
            event.contains("\"media_path\":\"statics/media/"),
            "the journal's image {n} names no stored file: {event}"
        );
    }
    server.kill();
}

/// `GET /health`'s status and problems.
async fn health(server: &TestServer) -> (String, Vec<String>) {
    let (status, body) = server.client(None).get("/health").await;
    assert_eq!(status, 200, "{body}");
    let problems = body["problems"]
        .as_array()
        .map(|p| p.iter().filter_map(|p| p.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    (body["status"].as_str().unwrap_or_default().to_owned(), problems)
}

/// A full disk stops nothing for good: the database lives on a small disk
/// that fills while messages arrive and the chain still has events to hand
/// to the outbox. Meanwhile nothing is acknowledged or dropped and `/health`
/// says which writes wait; once space is back, every message is journalled
/// and delivered and `/health` is `ok` again. (SQLite, whatever the suite's
/// database: the database file must be on the small disk.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_stops_nothing_for_good() {
    use sqlx::Connection;
    let disk = SmallDisk::mount(16);
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut receiver = WebhookReceiver::start().await;
    let database = disk.path().join("wasap.db");
    let mut config = sim_config(&db, dir.path());
    config.database_url = Some(format!("sqlite://{}", database.display()));
    config.plugins_dir = Some(dir.path().join("plugins.d"));
    config.write_retry_max_ms = 100;
    // 50 ms per message: what arrives before the disk fills is still in the
    // chain when it does, so its webhooks meet the full disk at the outbox.
    slow_plugin(dir.path(), 50);
    let mut server = TestServer::start_with(config).await;
    wasap_tests::online(&mut server, INSTANCE, PHONE).await;
    let (status, body) = server
        .admin()
        .post(
            &format!("/api/instances/{INSTANCE}/webhook-setconfig"),
            json!({ "url": receiver.url("/hook") }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let sim = server.sim(INSTANCE);
    for n in 0..20 {
        sim.text(CONTACT, &text(n)).await;
    }
    // New writes must grow the files: the log is emptied into the database first.
    let mut sqlite = sqlx::SqliteConnection::connect(&format!("sqlite://{}", database.display()))
        .await
        .expect("open the database");
    let (busy, _, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
        .fetch_one(&mut sqlite)
        .await
        .expect("checkpoint");
    assert_eq!(busy, 0, "the checkpoint ran to the end");
    sqlite.close().await.expect("close");
    let filler = disk.fill();

    let sending: Vec<_> = (20..50)
        .map(|n| {
            let sim = server.sim(INSTANCE);
            tokio::spawn(async move { sim.text(CONTACT, &text(n)).await })
        })
        .collect();
    // Which write meets the full disk first is SQLite's business (a failed
    // transaction leaves the log longer, and a smaller one may fit there):
    // the journal (then WhatsApp's acks wait), the outbox (then the chain
    // waits), or both. Health must name whichever waits.
    let deadline = tokio::time::Instant::now() + WAIT;
    let (problems, journal) = loop {
        let (status, problems) = health(&server).await;
        let journal = problems.iter().any(|p| p.contains("journal"));
        let outbox = problems.iter().any(|p| p.contains("outbox"));
        if status == "degraded" && (journal || outbox) {
            break (problems, journal);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "health never said a write of the inbound path waits: {status} {problems:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    eprintln!("with the disk full: {problems:#?}");
    if journal {
        assert!(
            sending.iter().any(|task| !task.is_finished()),
            "every message was acknowledged though the journal could not be written"
        );
    }

    std::fs::remove_file(filler).expect("space returns");
    for task in sending {
        task.await.expect("the message is taken once space is back");
    }
    let expected: BTreeSet<usize> = (0..50).collect();
    all_delivered(
        &mut receiver,
        Lookout {
            whatsapp: None,
            api: server.admin(),
            logs: Vec::new(),
        },
        &expected,
        &BTreeSet::new(),
    )
    .await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (status, problems) = health(&server).await;
        if status == "ok" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "still {status}: {problems:?}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    server.stop().await;
}
