//! Polls (issue 19): a poll sent by instance id or by the instance's own
//! number reaches the contact exactly (decrypted on the real engine, where
//! the simulated contact reads the poll creation message); contacts' votes,
//! encrypted under the poll's secret on the real engine, become `poll_vote`
//! events with the options picked and the totals so far, and reach the
//! webhooks in both seed formats and the instance's listener; a vote on a
//! poll the instance does not keep is reported as unreadable. Bad polls get
//! a 422 each and nothing is sent.

use std::sync::Arc;

use serde_json::{Value, json};
use wasap::events::{Event, EventKind, PollTotal, PollVote, Undecryptable};
use wasap_tests::engines::{EngineUnderTest, PollSent, Whatsapp};
use wasap_tests::outputs::{GOWA_SECRET, SUDEVWA_SECRET, webhooks_in_both_formats};
use wasap_tests::webhook_receiver::{WebhookReceiver, signature_valid};
use wasap_tests::websocket::{Token, open};
use wasap_tests::{TestDb, TestServer, both_engines, data_dir, online};

const SHOP: &str = "6281234500200";
const ANI: &str = "6281234567801";
const ANI_JID: &str = "6281234567801@s.whatsapp.net";
const BUDI: &str = "6281234567802";
const BUDI_JID: &str = "6281234567802@s.whatsapp.net";
const GROUP: &str = "120363402106000077@g.us";

both_engines!(polls_arrive_exactly_and_their_votes_are_tallied);

fn names(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

/// Each option of a poll with its votes, in the poll's order.
type Counts<'a> = &'a [(&'a str, u32)];

fn totals(counts: Counts<'_>) -> Vec<PollTotal> {
    counts
        .iter()
        .map(|(option, votes)| PollTotal {
            option: (*option).to_owned(),
            votes: *votes,
        })
        .collect()
}

/// The `poll_vote` event of vote `id`.
async fn vote_event(server: &mut TestServer, id: &str) -> (Arc<Event>, PollVote) {
    let (event, _) = server
        .events
        .wait_for(
            &format!("poll vote {id}"),
            |e| matches!(&e.kind, EventKind::PollVote(v) if v.id == id),
        )
        .await;
    let EventKind::PollVote(vote) = &event.kind else {
        unreachable!()
    };
    let vote = vote.clone();
    (event, vote)
}

async fn polls_arrive_exactly_and_their_votes_are_tallied(engine: EngineUnderTest) {
    let whatsapp = Whatsapp::start(engine).await;
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut receiver = WebhookReceiver::start().await;
    let mut server = whatsapp.server(&db, dir.path()).await;
    let token = whatsapp.online(&mut server, "shop", SHOP).await;
    webhooks_in_both_formats(&server, "shop", &receiver).await;
    let mut listener = open(&server, "/api/listen/shop", Token::Query(&token)).await;
    let driver = whatsapp.driver(&server, "shop");
    driver.contact(ANI, true).await;
    driver.contact(BUDI, true).await;
    let api = server.client(Some(&token));

    // By instance id, a single choice (the default), options trimmed.
    let (status, sent) = api
        .post(
            "/api/send/shop/poll",
            json!({ "to": ANI, "name": "Lunch today?", "options": ["Rice", " Noodles ", "Soup"] }),
        )
        .await;
    assert_eq!(status, 200, "{sent}");
    assert_eq!(sent["to"], ANI_JID);
    let lunch = sent["message_id"].as_str().expect("the poll's id").to_owned();
    // By the instance's own number, two choices of three.
    let (status, sent) = server
        .admin()
        .post(
            &format!("/api/by-number/{SHOP}/poll"),
            json!({ "to": BUDI, "name": "Toppings", "options": ["Egg", "Chili", "Tofu"], "selectableCount": 2 }),
        )
        .await;
    assert_eq!(status, 200, "{sent}");
    assert_eq!(sent["to"], BUDI_JID);
    let toppings = sent["message_id"].as_str().expect("the poll's id").to_owned();

    assert_eq!(
        driver.polls_sent_to(ANI, 1).await,
        [PollSent {
            id: lunch.clone(),
            name: "Lunch today?".into(),
            options: names(&["Rice", "Noodles", "Soup"]),
            selectable_count: 1,
        }]
    );
    assert_eq!(
        driver.polls_sent_to(BUDI, 1).await,
        [PollSent {
            id: toppings.clone(),
            name: "Toppings".into(),
            options: names(&["Egg", "Chili", "Tofu"]),
            selectable_count: 2,
        }]
    );
    if let Some(poll) = driver.received_poll(ANI, &lunch) {
        // As WhatsApp Web sends them: a single-choice poll as v3, with a 32-byte secret.
        assert_eq!((poll.version, poll.secret.len()), ("v3", 32));
        assert_eq!(driver.received_poll(BUDI, &toppings).expect("a poll").version, "v1");
    }

    // Ani votes, Budi votes for two, Ani changes her mind, then withdraws.
    // Both have LIDs, which the instance knows (on the real engine it learnt
    // them sending the polls): each vote names the voter by both.
    let lids = [
        (ANI, driver.contact_with_lid(ANI).await),
        (BUDI, driver.contact_with_lid(BUDI).await),
    ];
    let lid_of = |voter: &str| {
        lids.iter()
            .find(|(phone, _)| *phone == voter)
            .map(|(_, lid)| lid.clone())
    };
    let expected =
        |id: &str, poll_id: &str, voter: &str, name: &str, selected: &[&str], counts: &[(&str, u32)]| PollVote {
            id: id.to_owned(),
            poll_id: poll_id.to_owned(),
            chat: format!("{voter}@s.whatsapp.net"),
            voter: format!("{voter}@s.whatsapp.net"),
            voter_lid: lid_of(voter),
            voter_phone: Some(voter.to_owned()),
            push_name: Some(name.to_owned()),
            is_group: false,
            timestamp: 0,
            selected: names(selected),
            totals: totals(counts),
        };
    let steps: [(&str, &str, &str, &[&str], Counts<'_>); 4] = [
        (
            ANI,
            "Ani",
            &lunch,
            &["Rice"],
            &[("Rice", 1), ("Noodles", 0), ("Soup", 0)],
        ),
        (
            BUDI,
            "Budi",
            &toppings,
            &["Tofu", "Egg"],
            &[("Egg", 1), ("Chili", 0), ("Tofu", 1)],
        ),
        (
            ANI,
            "Ani",
            &lunch,
            &["Noodles"],
            &[("Rice", 0), ("Noodles", 1), ("Soup", 0)],
        ),
        (ANI, "Ani", &lunch, &[], &[("Rice", 0), ("Noodles", 0), ("Soup", 0)]),
    ];
    let mut vote_ids = Vec::new();
    for (voter, name, poll_id, picked, counts) in steps {
        let id = driver.vote(voter, name, poll_id, picked).await;
        let (event, got) = vote_event(&mut server, &id).await;
        assert_eq!(event.instance_id, "shop");
        assert!(got.timestamp > 1_700_000_000, "the vote's time: {}", got.timestamp);
        let mut want_selected: Vec<&str> = picked.to_vec();
        want_selected.sort_by_key(|o| counts.iter().position(|(c, _)| c == o));
        assert_eq!(
            got,
            PollVote {
                timestamp: got.timestamp,
                ..expected(&id, poll_id, voter, name, &want_selected, counts)
            }
        );
        vote_ids.push(id);
    }

    // A vote on a poll the instance does not keep: reported, not dropped.
    let stray = driver
        .vote_on_unknown_poll(BUDI, "Budi", "3EB0C0FFEE00000000000001")
        .await;
    let (event, _) = server
        .events
        .wait_for(
            "the unreadable vote",
            |e| matches!(&e.kind, EventKind::MessageUndecryptable(u) if u.id == stray),
        )
        .await;
    let EventKind::MessageUndecryptable(unreadable) = &event.kind else {
        unreachable!()
    };
    assert_eq!(
        (
            unreadable.reason.as_str(),
            unreadable.sender.as_str(),
            unreadable.chat.as_str()
        ),
        (Undecryptable::UNKNOWN_POLL, BUDI_JID, BUDI_JID)
    );

    // The webhooks, in both formats, and the listener see each vote.
    let votes = |all: &[wasap_tests::webhook_receiver::Received], path: &str| {
        all.iter()
            .filter(|r| r.path == path && String::from_utf8_lossy(&r.body).contains("poll_id"))
            .count()
    };
    let all = receiver
        .until("4 poll votes in each format", |all| {
            votes(all, "/sudevwa") >= 4 && votes(all, "/gowa") >= 4
        })
        .await;
    let body_of = |path: &str, vote: &str| -> Value {
        let request = all
            .iter()
            .find(|r| r.path == path && String::from_utf8_lossy(&r.body).contains(vote))
            .unwrap_or_else(|| panic!("no {path} delivery of vote {vote}"));
        let (format, secret) = if path == "/sudevwa" {
            ("sudevwa", SUDEVWA_SECRET)
        } else {
            ("gowa", GOWA_SECRET)
        };
        assert!(signature_valid(request, format, secret), "a valid {format} signature");
        serde_json::from_slice(&request.body).expect("a JSON body")
    };
    let mut sudevwa = body_of("/sudevwa", &vote_ids[1]);
    assert!(sudevwa["timestamp"].is_string(), "{sudevwa}");
    assert!(sudevwa["data"]["timestamp"].is_i64(), "{sudevwa}");
    sudevwa["timestamp"] = json!("T");
    sudevwa["data"]["timestamp"] = json!(0);
    assert_eq!(
        sudevwa,
        json!({
            "event": "poll.vote",
            "timestamp": "T",
            "data": {
                "instance_id": "shop",
                "from": BUDI_JID,
                "sender": BUDI_JID,
                "sender_lid": lid_of(BUDI),
                "sender_phone": BUDI,
                "push_name": "Budi",
                "is_group": false,
                "timestamp": 0,
                "message_id": vote_ids[1],
                "poll_id": toppings,
                "selected_options": ["Egg", "Tofu"],
                "totals": [
                    { "option": "Egg", "votes": 1 },
                    { "option": "Chili", "votes": 0 },
                    { "option": "Tofu", "votes": 1 },
                ],
            },
        })
    );
    let mut gowa = body_of("/gowa", &vote_ids[3]);
    assert!(gowa["timestamp"].is_string(), "{gowa}");
    gowa["timestamp"] = json!("T");
    assert_eq!(
        gowa,
        json!({
            "sender_id": ANI,
            "chat_id": ANI,
            "from": ANI_JID,
            "timestamp": "T",
            "pushname": "Ani",
            "message": { "text": "", "id": vote_ids[3], "replied_id": "", "quoted_message": "" },
            "poll_vote": {
                "poll_id": lunch,
                "selected_options": [],
                "totals": [
                    { "option": "Rice", "votes": 0 },
                    { "option": "Noodles", "votes": 0 },
                    { "option": "Soup", "votes": 0 },
                ],
                "from_lid": lid_of(ANI),
            },
        })
    );
    let mut heard = Vec::new();
    while heard.len() < 4 {
        let frame = listener.next_frame().await;
        if frame["event"] == "poll.vote" {
            heard.push(frame["data"]["message_id"].as_str().unwrap_or_default().to_owned());
        }
    }
    assert_eq!(heard, vote_ids);
    server.stop().await;
    whatsapp.assert_all_handled();
}

/// On the simulated network, a poll in a group: two members vote and one
/// changes their vote; the totals count each member's latest vote once.
#[tokio::test]
async fn a_group_polls_totals_count_each_members_latest_vote() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = TestServer::start(&db, dir.path()).await;
    let token = online(&mut server, "shop", SHOP).await;
    let api = server.client(Some(&token));
    let (status, sent) = api
        .post(
            "/api/send/shop/poll",
            json!({ "to": GROUP, "name": "Meeting day?", "options": ["Mon", "Tue", "Wed"], "selectableCount": 3 }),
        )
        .await;
    assert_eq!(status, 200, "{sent}");
    let poll_id = sent["message_id"].as_str().expect("the poll's id").to_owned();
    let mut vote = async |from: &str, options: &[&str]| -> PollVote {
        let body = json!({ "from": from, "poll_id": poll_id, "options": options, "group": GROUP });
        let (status, answer) = server.admin().post("/sim/instances/shop/poll-vote", body.clone()).await;
        assert_eq!(status, 200, "{body} → {answer}");
        let id = answer["message_id"].as_str().expect("the vote's id").to_owned();
        let (_, got) = vote_event(&mut server, &id).await;
        assert_eq!((got.chat.as_str(), got.is_group), (GROUP, true));
        got
    };
    let counts = |vote: &PollVote| vote.totals.iter().map(|t| t.votes).collect::<Vec<_>>();
    assert_eq!(counts(&vote(ANI, &["Mon", "Tue"]).await), [1, 1, 0]);
    assert_eq!(counts(&vote(BUDI, &["Tue"]).await), [1, 2, 0]);
    let changed = vote(ANI, &["Wed"]).await;
    assert_eq!(
        (changed.selected.clone(), counts(&changed)),
        (names(&["Wed"]), vec![0, 1, 1])
    );
    assert_eq!(changed.voter, ANI_JID);

    // Not an option of the poll: a phone cannot vote for it.
    let (status, answer) = server
        .admin()
        .post(
            "/sim/instances/shop/poll-vote",
            json!({ "from": ANI, "poll_id": poll_id, "options": ["Sun"], "group": GROUP }),
        )
        .await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (422, Some("invalid_vote")),
        "{answer}"
    );
    server.stop().await;
}

#[tokio::test]
async fn bad_polls_get_a_422_each_and_send_nothing() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = TestServer::start(&db, dir.path()).await;
    let token = online(&mut server, "shop", SHOP).await;
    let api = server.client(Some(&token));
    let before = crate::messaging::sent(&server, "shop").await.len();

    let thirteen: Vec<String> = (1..=13).map(|i| format!("Option {i}")).collect();
    let poll = |name: &str, options: Value, selectable: Value| {
        let mut body = json!({ "to": ANI, "name": name, "options": options });
        if !selectable.is_null() {
            body["selectableCount"] = selectable;
        }
        body
    };
    let cases = [
        (poll("Lunch?", json!([]), Value::Null), "too_few_poll_options"),
        (poll("Lunch?", json!(["Rice"]), Value::Null), "too_few_poll_options"),
        (poll("Lunch?", json!(thirteen), Value::Null), "too_many_poll_options"),
        (
            poll("Lunch?", json!(["Rice", "Soup", " Rice "]), Value::Null),
            "duplicate_poll_options",
        ),
        (
            poll("Lunch?", json!(["Rice", "  "]), Value::Null),
            "invalid_poll_option",
        ),
        (
            poll("Lunch?", json!(["Rice", "x".repeat(101)]), Value::Null),
            "invalid_poll_option",
        ),
        (
            poll("Lunch?", json!(["Rice", "Soup"]), json!(0)),
            "invalid_selectable_count",
        ),
        (
            poll("Lunch?", json!(["Rice", "Soup"]), json!(3)),
            "invalid_selectable_count",
        ),
        (poll(" ", json!(["Rice", "Soup"]), Value::Null), "invalid_poll_question"),
        (
            poll(&"Q".repeat(256), json!(["Rice", "Soup"]), Value::Null),
            "invalid_poll_question",
        ),
    ];
    for (body, code) in cases {
        let (status, answer) = api.post("/api/send/shop/poll", body.clone()).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (422, Some(code)),
            "{body} → {answer}"
        );
        let (status, answer) = server
            .admin()
            .post(&format!("/api/by-number/{SHOP}/poll"), body.clone())
            .await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (422, Some(code)),
            "by number: {body} → {answer}"
        );
    }
    // Twelve options and a choice of all of them is the most WhatsApp takes.
    let (status, answer) = api
        .post("/api/send/shop/poll", poll("Most?", json!(thirteen[..12]), json!(12)))
        .await;
    assert_eq!(status, 200, "{answer}");
    let sent = crate::messaging::sent(&server, "shop").await;
    assert_eq!(sent.len(), before + 1, "only the good poll was sent: {sent:#?}");
    assert_eq!(sent[before]["kind"], "poll");
    assert_eq!(sent[before]["poll"]["selectable_count"], 12);

    // The served OpenAPI document has the routes and the body's fields.
    let (status, doc) = server.client(None).get("/openapi.json").await;
    assert_eq!(status, 200);
    for path in [
        "/api/send/{id}/poll",
        "/api/by-number/{phone}/poll",
        "/sim/instances/{id}/poll-vote",
    ] {
        assert!(doc["paths"][path]["post"].is_object(), "{path} is in the document");
    }
    let body = &doc["components"]["schemas"]["SendPoll"];
    assert_eq!(body["required"], json!(["to", "name", "options"]), "{body}");
    assert!(body["properties"]["selectableCount"].is_object(), "{body}");
    server.stop().await;
}
