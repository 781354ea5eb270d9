//! Plugins moderate (`wasap:plugin@0.3.0`, capability `moderate`), on both engines: the
//! `probe` in `actions` mode removes and promotes a group's participants when an admin
//! writes so in the group, blocks and unblocks a contact, and rejects the call of a
//! `call_offer` event, each done as the REST routes do it and seen on WhatsApp's side
//! (the group as WhatsApp keeps it, the account's blocklist, the caller's record of the
//! reject). A plugin without `moderate` has those actions refused as bad output, and
//! nothing changes on WhatsApp's side.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use wasap::events::{EventKind, GroupAction};
use wasap_tests::both_engines;
use wasap_tests::engines::{CallRejected, EngineUnderTest, GroupState, OnlineShop, Sender};
use wasap_tests::plugins::{PROBE, component, install, probe_manifest};
use wasap_tests::{Api, TestServer};

const SHOP: &str = "6281234500800";
const ALICE: &str = "6281234500801";
const BOB: &str = "6281234500802";
const CAROL: &str = "6281234500803";
const CLUB: &str = "120363402106000800@g.us";

fn jid(phone: &str) -> String {
    format!("{phone}@s.whatsapp.net")
}

both_engines!(
    a_plugin_removes_and_promotes_group_participants,
    a_plugin_blocks_and_unblocks_a_contact,
    a_plugin_rejects_the_call_it_is_offered,
    a_plugin_without_moderate_is_refused_and_nothing_changes,
);

/// Installs the probe in `actions` mode as `name`, its manifest changed by `edit`.
async fn install_probe(server: &TestServer, name: &str, edit: impl Fn(String) -> String) {
    let manifest = edit(probe_manifest(name, "actions", 100, ""));
    let (status, body) = install(server, &manifest, component(PROBE)).await;
    assert_eq!(status, 201, "{body}");
}

async fn stats(api: &Api, name: &str) -> Value {
    let (status, body) = api.get(&format!("/api/plugins/{name}")).await;
    assert_eq!(status, 200, "{body}");
    body["stats"].clone()
}

/// Waits for the event of `action` in `group` on exactly `jids`.
async fn participants_event(server: &mut TestServer, group: &str, action: GroupAction, jids: &[String]) {
    server
        .events
        .wait_for("a group participants event", |e| {
            matches!(&e.kind, EventKind::GroupParticipants(g)
                if g.group == group && g.action == action && g.jids == jids)
        })
        .await;
}

/// The participants of a group answer, by JID, with their roles.
fn roles(group: &Value) -> BTreeMap<String, String> {
    group["participants"]
        .as_array()
        .expect("participants")
        .iter()
        .map(|p| {
            (
                p["jid"].as_str().expect("a jid").to_owned(),
                p["role"].as_str().expect("a role").to_owned(),
            )
        })
        .collect()
}

fn members(members: &[(&str, bool)]) -> GroupState {
    GroupState {
        subject: "Team".to_owned(),
        members: members.iter().map(|(m, admin)| ((*m).to_owned(), *admin)).collect(),
    }
}

/// The JIDs of the instance's blocklist, as the REST route answers it.
async fn blocklist(api: &Api) -> Vec<String> {
    let (status, list) = api.get("/api/contacts/shop/blocklist").await;
    assert_eq!(status, 200, "{list}");
    list["blocked"]
        .as_array()
        .expect("the blocklist")
        .iter()
        .map(|b| b["jid"].as_str().expect("a jid").to_owned())
        .collect()
}

async fn a_plugin_removes_and_promotes_group_participants(engine: EngineUnderTest) {
    let OnlineShop {
        whatsapp,
        mut server,
        driver,
        ..
    } = OnlineShop::start(engine, SHOP).await;
    let api = server.admin();
    for contact in [ALICE, BOB, CAROL] {
        driver.contact(contact, true).await;
    }
    // Alice made the group; the shop is an admin of it.
    driver.group_with_instance(CLUB, ALICE, &[BOB, CAROL], true).await;
    install_probe(&server, "moderator", |m| m).await;
    let alice = Sender::contact(ALICE, "Alice").in_group(CLUB);

    driver.text_message_from(alice, &format!("remove {CAROL}")).await;
    participants_event(&mut server, CLUB, GroupAction::Leave, &[jid(CAROL)]).await;
    assert_eq!(
        driver.group_state(CLUB).await,
        Some(members(&[(SHOP, true), (ALICE, true), (BOB, false)]))
    );

    // Named by a JID this time.
    driver.text_message_from(alice, &format!("promote {}", jid(BOB))).await;
    participants_event(&mut server, CLUB, GroupAction::Promote, &[jid(BOB)]).await;
    assert_eq!(
        driver.group_state(CLUB).await,
        Some(members(&[(SHOP, true), (ALICE, true), (BOB, true)]))
    );
    let (status, group) = api.get(&format!("/api/groups/shop/{CLUB}")).await;
    assert_eq!(status, 200, "{group}");
    assert_eq!(
        (
            roles(&group).get(&jid(BOB)).map(String::as_str),
            &group["participant_count"]
        ),
        (Some("admin"), &json!(3)),
        "{group}"
    );
    assert!(!roles(&group).contains_key(&jid(CAROL)), "{group}");

    let moderator = stats(&api, "moderator").await;
    assert_eq!(
        (&moderator["calls"], &moderator["errors"]),
        (&json!(2), &json!(0)),
        "{moderator}"
    );
    server.stop().await;
    whatsapp.assert_all_handled();
}

async fn a_plugin_blocks_and_unblocks_a_contact(engine: EngineUnderTest) {
    let OnlineShop {
        whatsapp,
        server,
        driver,
        ..
    } = OnlineShop::start(engine, SHOP).await;
    let api = server.admin();
    driver.contact(ALICE, true).await;
    driver.contact(BOB, true).await;
    install_probe(&server, "moderator", |m| m).await;

    // Each moderation action goes through the instance's send lane in order: once
    // the location asked for after it reaches Alice, the block is done.
    driver.text_from(ALICE, "Alice", &format!("block {BOB}")).await;
    driver.text_from(ALICE, "Alice", "location").await;
    assert_eq!(driver.sent_to(ALICE, 1).await.len(), 1);
    assert_eq!(blocklist(&api).await, [jid(BOB)]);
    assert_eq!(driver.account_record().await.blocked, [jid(BOB)]);

    driver.text_from(ALICE, "Alice", &format!("unblock {}", jid(BOB))).await;
    driver.text_from(ALICE, "Alice", "location").await;
    assert_eq!(driver.sent_to(ALICE, 2).await.len(), 2);
    assert_eq!(blocklist(&api).await, Vec::<String>::new());
    assert_eq!(driver.account_record().await.blocked, Vec::<String>::new());

    let moderator = stats(&api, "moderator").await;
    assert_eq!(
        (&moderator["calls"], &moderator["errors"]),
        (&json!(4), &json!(0)),
        "{moderator}"
    );
    server.stop().await;
    whatsapp.assert_all_handled();
}

async fn a_plugin_rejects_the_call_it_is_offered(engine: EngineUnderTest) {
    let OnlineShop {
        whatsapp,
        server,
        driver,
        ..
    } = OnlineShop::start(engine, SHOP).await;
    driver.contact(ALICE, true).await;
    install_probe(&server, "no-calls", |m| {
        m.replace("events = [\"message\"]", "events = [\"message\", \"call_offer\"]")
    })
    .await;

    // The probe answers the offer with `reject-call` of the event's id and caller.
    let call = driver.call_from(ALICE, "Alice", false).await;
    assert_eq!(
        driver.rejected_calls(1).await,
        [CallRejected {
            call_id: call,
            caller: ALICE.to_owned(),
        }]
    );
    let no_calls = stats(&server.admin(), "no-calls").await;
    assert_eq!(
        (&no_calls["calls"], &no_calls["errors"]),
        (&json!(1), &json!(0)),
        "{no_calls}"
    );
    server.stop().await;
    whatsapp.assert_all_handled();
}

async fn a_plugin_without_moderate_is_refused_and_nothing_changes(engine: EngineUnderTest) {
    let OnlineShop {
        whatsapp,
        server,
        driver,
        ..
    } = OnlineShop::start(engine, SHOP).await;
    let api = server.admin();
    for contact in [ALICE, BOB, CAROL] {
        driver.contact(contact, true).await;
    }
    driver.group_with_instance(CLUB, ALICE, &[BOB, CAROL], true).await;
    // Granted `send`, not `moderate`, and subscribed to calls.
    install_probe(&server, "mute", |m| {
        m.replace("moderate = true", "moderate = false")
            .replace("events = [\"message\"]", "events = [\"message\", \"call_offer\"]")
    })
    .await;

    driver
        .text_message_from(
            Sender::contact(ALICE, "Alice").in_group(CLUB),
            &format!("remove {CAROL}"),
        )
        .await;
    driver.text_from(ALICE, "Alice", &format!("block {BOB}")).await;
    driver.call_from(BOB, "Bob", false).await;
    // What the plugin may do still goes out, after what was refused would have.
    driver.text_from(ALICE, "Alice", "location").await;
    assert_eq!(driver.sent_to(ALICE, 1).await.len(), 1);

    let mute = stats(&api, "mute").await;
    assert_eq!((&mute["calls"], &mute["errors"]), (&json!(4), &json!(3)), "{mute}");
    let why = mute["last_error"].as_str().unwrap_or_default();
    assert!(why.contains("capabilities.moderate"), "{why}");
    assert_eq!(
        driver.group_state(CLUB).await,
        Some(members(&[(SHOP, true), (ALICE, true), (BOB, false), (CAROL, false)]))
    );
    assert_eq!(blocklist(&api).await, Vec::<String>::new());
    assert_eq!(driver.account_record().await.blocked, Vec::<String>::new());
    // The call's offer came before the location: had its reject gone out, it would be
    // recorded by now.
    assert_eq!(driver.rejected_calls(0).await, Vec::<CallRejected>::new());
    server.stop().await;
    whatsapp.assert_all_handled();
}
