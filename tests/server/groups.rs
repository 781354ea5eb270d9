//! Group management (docs/API.md, "Groups"), on both engines: the instance
//! creates a group, adds and promotes participants, renames it, shares its
//! invite link (a contact joins by it) and leaves; it joins a contact's
//! group by code, where it is not an admin; and bad input (an unknown group,
//! not an admin, an invalid JID, an unknown or reset invite code) gets its
//! 4xx and changes nothing on WhatsApp's side.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use wasap::events::{EventKind, GroupAction, GroupUpdate, GroupUpdateKind};
use wasap_tests::engines::{EngineUnderTest, GroupState, OnlineShop};
use wasap_tests::websocket::{Token, open};
use wasap_tests::{Api, TestServer, both_engines};

const SHOP: &str = "6281234500300";
const ALICE: &str = "6281234500301";
const BOB: &str = "6281234500302";
const CAROL: &str = "6281234500303";
const CLUB: &str = "120363402106000300@g.us";
const CLUB_CODE: &str = "ClubInviteCode0000000AB";

fn jid(phone: &str) -> String {
    format!("{phone}@s.whatsapp.net")
}

both_engines!(
    a_group_is_created_grown_renamed_shared_and_left,
    the_instance_joins_a_contacts_group_by_its_invite,
    bad_group_requests_get_a_4xx_and_change_nothing,
);

/// Waits for the group participants event of `group` with `action`; its members.
async fn participants_event(server: &mut TestServer, group: &str, action: GroupAction) -> Vec<String> {
    let (event, _) = server
        .events
        .wait_for(
            "a group participants event",
            |e| matches!(&e.kind, EventKind::GroupParticipants(g) if g.group == group && g.action == action),
        )
        .await;
    let EventKind::GroupParticipants(change) = &event.kind else {
        unreachable!()
    };
    change.jids.clone()
}

/// Waits for the group update event of `group` changing `change`.
async fn update_event(server: &mut TestServer, group: &str, change: GroupUpdateKind) -> GroupUpdate {
    let (event, _) = server
        .events
        .wait_for(
            "a group update event",
            |e| matches!(&e.kind, EventKind::GroupUpdate(u) if u.group == group && u.change == change),
        )
        .await;
    let EventKind::GroupUpdate(update) = &event.kind else {
        unreachable!()
    };
    update.clone()
}

/// The group update events of `group` for each of `changes`, in that
/// order, whatever order they came in: one change of the API can be several
/// notifications, and whatsapp-rust handles each on a task of its own.
async fn update_events(server: &mut TestServer, group: &str, changes: &[GroupUpdateKind]) -> Vec<GroupUpdate> {
    let mut got: Vec<Option<GroupUpdate>> = vec![None; changes.len()];
    while got.iter().any(Option::is_none) {
        let (event, _) = server
            .events
            .wait_for(
                "the group's update events",
                |e| matches!(&e.kind, EventKind::GroupUpdate(u) if u.group == group && changes.contains(&u.change)),
            )
            .await;
        let EventKind::GroupUpdate(update) = &event.kind else {
            unreachable!()
        };
        let at = changes
            .iter()
            .position(|c| *c == update.change)
            .expect("a change asked for");
        assert!(got[at].is_none(), "{:?} came twice", update.change);
        got[at] = Some(update.clone());
    }
    got.into_iter().flatten().collect()
}

/// `update` without its time, which the test cannot know.
fn untimed(update: GroupUpdate) -> (String, GroupUpdateKind, Option<String>, Option<bool>, Option<String>) {
    (update.group, update.change, update.text, update.enabled, update.author)
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

fn state(subject: &str, members: &[(&str, bool)]) -> GroupState {
    GroupState {
        subject: subject.to_owned(),
        members: members.iter().map(|(m, admin)| ((*m).to_owned(), *admin)).collect(),
    }
}

async fn patch(api: &Api, path: &str, body: Value) -> (u16, Value) {
    api.send(reqwest::Method::PATCH, path, Some(body)).await
}

async fn a_group_is_created_grown_renamed_shared_and_left(engine: EngineUnderTest) {
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

    let (status, created) = api
        .post(
            "/api/groups/shop",
            json!({ "subject": "Team", "participants": [ALICE] }),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let group = created["jid"].as_str().expect("the group's jid").to_owned();
    assert!(group.ends_with("@g.us"), "{created}");
    assert_eq!(created["subject"], "Team");
    assert_eq!(created["role"], "superadmin");
    assert_eq!(
        roles(&created),
        BTreeMap::from([(jid(ALICE), "member".to_owned()), (jid(SHOP), "superadmin".to_owned())])
    );
    // Each member by both names, as the events name accounts: the number
    // in digits, and the LID the instance knows for it (the lookup route's).
    let (status, pair) = api.get(&format!("/api/lids/shop?phone={ALICE}")).await;
    let alice_lid = if status == 200 {
        pair["lid"].clone()
    } else {
        Value::Null
    };
    let alice = created["participants"]
        .as_array()
        .expect("participants")
        .iter()
        .find(|p| p["jid"] == jid(ALICE))
        .expect("Alice in the group");
    assert_eq!(
        alice,
        &json!({ "jid": jid(ALICE), "lid": alice_lid, "phone": ALICE, "role": "member", "is_me": false })
    );
    let (status, list) = api.get("/api/groups/shop").await;
    assert_eq!(status, 200, "{list}");
    let listed: Vec<&str> = list["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| g["jid"].as_str().expect("a jid"))
        .collect();
    assert_eq!(listed, [group.as_str()]);
    assert_eq!(list["groups"][0]["participant_count"], 2);

    // Bob is added; Alice is made an admin. Each change is an event.
    let (status, added) = api
        .post(
            &format!("/api/groups/shop/{group}/participants"),
            json!({ "action": "add", "participants": [BOB] }),
        )
        .await;
    assert_eq!(
        (status, added),
        (
            200,
            json!({ "results": [{ "jid": jid(BOB), "ok": true, "error": null }] })
        )
    );
    assert_eq!(
        participants_event(&mut server, &group, GroupAction::Join).await,
        [jid(BOB)]
    );
    let (status, promoted) = api
        .post(
            &format!("/api/groups/shop/{group}/participants"),
            json!({ "action": "promote", "participants": [format!("+{ALICE}")] }),
        )
        .await;
    assert_eq!(status, 200, "{promoted}");
    assert_eq!(promoted["results"][0]["ok"], true, "{promoted}");
    assert_eq!(
        participants_event(&mut server, &group, GroupAction::Promote).await,
        [jid(ALICE)]
    );

    // Renamed, with a description and announce-only.
    let (status, renamed) = patch(
        &api,
        &format!("/api/groups/shop/{group}"),
        json!({ "subject": "Team 2", "description": "Who does what", "announce": true }),
    )
    .await;
    assert_eq!(status, 200, "{renamed}");
    assert_eq!(
        (
            &renamed["subject"],
            &renamed["description"],
            &renamed["announce"],
            &renamed["locked"]
        ),
        (&json!("Team 2"), &json!("Who does what"), &json!(true), &json!(false))
    );
    let me = Some(jid(SHOP));
    let changes = [
        GroupUpdateKind::Subject,
        GroupUpdateKind::Description,
        GroupUpdateKind::Announce,
    ];
    let updates: Vec<_> = update_events(&mut server, &group, &changes)
        .await
        .into_iter()
        .map(untimed)
        .collect();
    assert_eq!(
        updates,
        [
            (
                group.clone(),
                GroupUpdateKind::Subject,
                Some("Team 2".to_owned()),
                None,
                me.clone()
            ),
            (
                group.clone(),
                GroupUpdateKind::Description,
                Some("Who does what".to_owned()),
                None,
                me.clone()
            ),
            (group.clone(), GroupUpdateKind::Announce, None, Some(true), me.clone()),
        ]
    );
    assert_eq!(
        driver.group_state(&group).await,
        Some(state("Team 2", &[(SHOP, true), (ALICE, true), (BOB, false)]))
    );

    // A photo: a JPEG (its first bytes are all WhatsApp looks at here).
    let jpeg = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        [
            0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00, 0xFF, 0xD9,
        ],
    );
    let (status, photo) = api
        .post(&format!("/api/groups/shop/{group}/photo"), json!({ "image": jpeg }))
        .await;
    assert_eq!(status, 200, "{photo}");
    let photo_id = photo["photo_id"].as_str().expect("the photo's id").to_owned();
    assert_eq!(
        untimed(update_event(&mut server, &group, GroupUpdateKind::Photo).await),
        (group.clone(), GroupUpdateKind::Photo, Some(photo_id), None, me.clone())
    );

    // The invite link: Carol joins by it. A reset makes the old one void.
    let (status, invite) = api.get(&format!("/api/groups/shop/{group}/invite")).await;
    assert_eq!(status, 200, "{invite}");
    let code = invite["code"].as_str().expect("a code").to_owned();
    assert_eq!(invite["link"], format!("https://chat.whatsapp.com/{code}"));
    driver.contact_joins(CAROL, &code).await;
    assert_eq!(
        participants_event(&mut server, &group, GroupAction::Join).await,
        [jid(CAROL)]
    );
    let (status, reset) = api.post_empty(&format!("/api/groups/shop/{group}/invite")).await;
    assert_eq!(status, 200, "{reset}");
    assert_ne!(reset["code"], code.as_str());
    assert_eq!(
        untimed(update_event(&mut server, &group, GroupUpdateKind::InviteLink).await),
        (group.clone(), GroupUpdateKind::InviteLink, None, None, me.clone())
    );
    let (status, expired) = api.get(&format!("/api/groups/shop/invites/{code}")).await;
    assert_eq!(
        (status, &expired["error"]["code"]),
        (410, &json!("invalid_invite")),
        "{expired}"
    );
    let (status, preview) = api
        .get(&format!("/api/groups/shop/invites/{}", reset["code"].as_str().unwrap()))
        .await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(
        (&preview["jid"], &preview["subject"], &preview["size"]),
        (&json!(group), &json!("Team 2"), &json!(4))
    );

    // The instance leaves: the group is no longer its own.
    let (status, left) = api.post_empty(&format!("/api/groups/shop/{group}/leave")).await;
    assert_eq!((status, left), (200, json!({ "left": group })));
    assert_eq!(
        participants_event(&mut server, &group, GroupAction::Leave).await,
        [jid(SHOP)]
    );
    let (status, gone) = api.get(&format!("/api/groups/shop/{group}")).await;
    assert_eq!(
        (status, &gone["error"]["code"]),
        (404, &json!("group_not_found")),
        "{gone}"
    );
    assert_eq!(
        driver.group_state(&group).await,
        Some(state("Team 2", &[(ALICE, true), (BOB, false), (CAROL, false)]))
    );
    whatsapp.assert_all_handled();
}

async fn the_instance_joins_a_contacts_group_by_its_invite(engine: EngineUnderTest) {
    let OnlineShop {
        whatsapp,
        mut server,
        driver,
        token,
    } = OnlineShop::start(engine, SHOP).await;
    let api = server.admin();
    let mut listener = open(&server, "/api/listen/shop", Token::Query(&token)).await;
    driver.contact(ALICE, true).await;
    driver.contact(BOB, true).await;
    driver.contacts_group(CLUB, "Book club", ALICE, &[BOB], CLUB_CODE).await;

    let (status, preview) = api.get(&format!("/api/groups/shop/invites/{CLUB_CODE}")).await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(
        (
            &preview["jid"],
            &preview["subject"],
            &preview["size"],
            &preview["owner"]
        ),
        (&json!(CLUB), &json!("Book club"), &json!(2), &json!(jid(ALICE)))
    );
    let (status, joined) = api
        .post(
            "/api/groups/shop/join",
            json!({ "code": format!("https://chat.whatsapp.com/{CLUB_CODE}") }),
        )
        .await;
    assert_eq!((status, joined), (200, json!({ "group": CLUB, "status": "joined" })));
    assert_eq!(
        participants_event(&mut server, CLUB, GroupAction::Join).await,
        [jid(SHOP)]
    );
    let (status, club) = api.get(&format!("/api/groups/shop/{CLUB}")).await;
    assert_eq!(status, 200, "{club}");
    assert_eq!(
        (&club["role"], &club["participant_count"]),
        (&json!("member"), &json!(3))
    );

    // A member is no admin: its admin's changes are refused, nothing changes.
    let (status, refused) = patch(&api, &format!("/api/groups/shop/{CLUB}"), json!({ "announce": true })).await;
    assert_eq!(
        (status, &refused["error"]["code"]),
        (403, &json!("not_group_admin")),
        "{refused}"
    );
    let (status, refused) = api
        .post(
            &format!("/api/groups/shop/{CLUB}/participants"),
            json!({ "action": "remove", "participants": [BOB] }),
        )
        .await;
    assert_eq!(
        (status, &refused["error"]["code"]),
        (403, &json!("not_group_admin")),
        "{refused}"
    );
    let (status, refused) = api.get(&format!("/api/groups/shop/{CLUB}/invite")).await;
    assert_eq!(
        (status, &refused["error"]["code"]),
        (403, &json!("not_group_admin")),
        "{refused}"
    );
    assert_eq!(
        driver.group_state(CLUB).await,
        Some(state("Book club", &[(ALICE, true), (BOB, false), (SHOP, false)]))
    );

    // The admin renames it: the listener hears who did, and the instance sees the new name.
    driver.member_renames(CLUB, ALICE, "Book club 2").await;
    let (frame, _) = listener.wait_event("group.update").await;
    let at = frame["data"]["timestamp"].as_i64().expect("a timestamp");
    assert_eq!(
        frame["data"],
        json!({
            "instance_id": "shop", "group": CLUB, "change": "subject", "text": "Book club 2",
            "enabled": null, "author": jid(ALICE), "timestamp": at,
        })
    );
    let (status, club) = api.get(&format!("/api/groups/shop/{CLUB}")).await;
    assert_eq!((status, &club["subject"]), (200, &json!("Book club 2")), "{club}");
    whatsapp.assert_all_handled();
}

async fn bad_group_requests_get_a_4xx_and_change_nothing(engine: EngineUnderTest) {
    let OnlineShop {
        whatsapp,
        server,
        driver,
        ..
    } = OnlineShop::start(engine, SHOP).await;
    let api = server.admin();
    driver.contact(ALICE, true).await;
    driver.contact(BOB, true).await;
    driver.contacts_group(CLUB, "Book club", ALICE, &[BOB], CLUB_CODE).await;
    let before = driver.group_state(CLUB).await;

    let error = |status: u16, code: &str| (status, json!(code));
    let code_of = |(status, body): (u16, Value)| (status, body["error"]["code"].clone());
    let unknown = "120363000000000999@g.us";
    // A group the instance is not in (or that does not exist).
    assert_eq!(
        code_of(api.get(&format!("/api/groups/shop/{CLUB}")).await),
        error(404, "group_not_found")
    );
    assert_eq!(
        code_of(api.get(&format!("/api/groups/shop/{unknown}")).await),
        error(404, "group_not_found")
    );
    assert_eq!(
        code_of(
            patch(
                &api,
                &format!("/api/groups/shop/{CLUB}"),
                json!({ "subject": "Mine now" })
            )
            .await
        ),
        error(404, "group_not_found")
    );
    assert_eq!(
        code_of(
            api.post(
                &format!("/api/groups/shop/{CLUB}/participants"),
                json!({ "action": "add", "participants": [SHOP] }),
            )
            .await
        ),
        error(404, "group_not_found")
    );
    assert_eq!(
        code_of(api.post_empty(&format!("/api/groups/shop/{unknown}/leave")).await),
        error(404, "group_not_found")
    );
    // Invalid JIDs and input.
    assert_eq!(
        code_of(api.get("/api/groups/shop/not-a-group").await),
        error(422, "invalid_group")
    );
    assert_eq!(
        code_of(
            api.post(
                &format!("/api/groups/shop/{CLUB}/participants"),
                json!({ "action": "add", "participants": ["alice"] }),
            )
            .await
        ),
        error(422, "invalid_participant")
    );
    assert_eq!(
        code_of(
            api.post("/api/groups/shop", json!({ "subject": "x".repeat(101) }))
                .await
        ),
        error(422, "invalid_subject")
    );
    assert_eq!(
        code_of(
            api.post(
                &format!("/api/groups/shop/{CLUB}/photo"),
                json!({ "image": "aGVsbG8gd29ybGQ=" }),
            )
            .await
        ),
        error(422, "invalid_photo")
    );
    // Invite codes that lead nowhere.
    assert_eq!(
        code_of(
            api.post("/api/groups/shop/join", json!({ "code": "NoSuchCode0000000000AB" }))
                .await
        ),
        error(410, "invalid_invite")
    );
    assert_eq!(
        code_of(api.get("/api/groups/shop/invites/NoSuchCode0000000000AB").await),
        error(410, "invalid_invite")
    );
    assert_eq!(
        code_of(
            api.post("/api/groups/shop/join", json!({ "code": "not a code!" }))
                .await
        ),
        error(422, "invalid_invite_code")
    );
    // Nothing changed, and the instance is in no group.
    assert_eq!(driver.group_state(CLUB).await, before);
    let (status, list) = api.get("/api/groups/shop").await;
    assert_eq!((status, list), (200, json!({ "groups": [] })));
    whatsapp.assert_all_handled();
}
