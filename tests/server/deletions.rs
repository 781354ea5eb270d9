//! Deleting messages (docs/API.md, "Message actions"): for me
//! (`/api/messages/{id}/delete-for-me`, an app state change WhatsApp syncs
//! to the account's devices; on the real engine the simulator takes the
//! client's patch and decrypts it), and for everyone as a group's admin
//! (`revoke` of another member's message). Bad input gets a clear 4xx and
//! sends nothing.

use serde_json::json;
use wasap_tests::engines::{AdminRevoke, DeletedForMe, EngineUnderTest, ListenedShop, Sender};
use wasap_tests::{TestDb, TestServer, both_engines, data_dir, online};

const SHOP: &str = "6281234500200";
const CONTACT: &str = "6281234567891";
const ADMIN: &str = "6281234567892";
const GROUP: &str = "120363402106000200@g.us";

both_engines!(messages_deleted_for_me_are_deleted_for_the_account_only);

async fn messages_deleted_for_me_are_deleted_for_the_account_only(engine: EngineUnderTest) {
    let mut shop = ListenedShop::start(engine, SHOP).await;
    let api = shop.api();
    let (driver, listener) = (&shop.driver, &mut shop.listener);
    driver.contact(CONTACT, true).await;
    let contact_jid = format!("{CONTACT}@s.whatsapp.net");

    let hello = driver.text_from(CONTACT, "John Doe", "Spam, spam, spam").await;
    let frame = listener.next_frame().await;
    assert_eq!(frame["data"]["message_id"], hello.as_str(), "{frame}");
    let (status, deleted) = api
        .post("/api/messages/shop/delete-for-me", json!({ "message_id": hello }))
        .await;
    assert_eq!(
        (status, deleted),
        (200, json!({ "message_id": hello, "chat": contact_jid }))
    );
    assert_eq!(
        driver.wait_deleted_for_me(&hello).await,
        DeletedForMe {
            chat: contact_jid.clone(),
            target_id: hello.clone()
        }
    );

    // The instance's own message too.
    let (status, sent) = api
        .post(
            "/api/send/shop",
            json!({ "to": CONTACT, "message": "Oops, wrong chat" }),
        )
        .await;
    assert_eq!(status, 200, "{sent}");
    let own = sent["message_id"].as_str().expect("the text's id").to_owned();
    let (status, deleted) = api
        .post("/api/messages/shop/delete-for-me", json!({ "message_id": own }))
        .await;
    assert_eq!((status, deleted["chat"].as_str()), (200, Some(contact_jid.as_str())));
    assert_eq!(driver.wait_deleted_for_me(&own).await.target_id, own);
    // The contact still has the text: nothing was revoked.
    assert!(
        driver.actions_sent_to(CONTACT, 0).await.is_empty(),
        "a deletion for me reaches no one else"
    );
    shop.finish().await;
}

both_engines!(a_group_admin_revokes_another_members_message);

async fn a_group_admin_revokes_another_members_message(engine: EngineUnderTest) {
    let mut shop = ListenedShop::start(engine, SHOP).await;
    let api = shop.api();
    let (driver, listener) = (&shop.driver, &mut shop.listener);
    driver.group_with_instance(GROUP, ADMIN, &[CONTACT], true).await;

    let spam = driver
        .text_message_from(
            Sender::contact(CONTACT, "John Doe").in_group(GROUP),
            "Buy cheap watches",
        )
        .await;
    // Once it is journalled, its id names it (and its author).
    while listener.next_frame().await["data"]["message_id"] != spam.as_str() {}
    let (status, revoked) = api
        .post("/api/messages/shop/revoke", json!({ "message_id": spam }))
        .await;
    assert_eq!(status, 200, "{revoked}");
    assert_eq!(
        (revoked["message_id"].as_str(), revoked["to"].as_str()),
        (Some(spam.as_str()), Some(GROUP))
    );
    assert_eq!(
        driver.admin_revokes_in(GROUP, ADMIN, 1).await,
        [AdminRevoke {
            target_id: spam.clone(),
            sender: format!("{CONTACT}@s.whatsapp.net")
        }]
    );
    shop.finish().await;
}

#[tokio::test]
async fn deletions_refuse_unknown_messages_and_non_admins_and_send_nothing() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = TestServer::start(&db, dir.path()).await;
    let token = online(&mut server, "shop", SHOP).await;
    let api = server.client(Some(&token));
    let admin = server.admin();
    let incoming = |body: serde_json::Value| {
        let admin = server.admin();
        async move {
            let (status, answer) = admin.post("/sim/instances/shop/incoming", body).await;
            assert_eq!(status, 200, "{answer}");
            answer["message_id"].as_str().expect("the message id").to_owned()
        }
    };
    let before = crate::messaging::sent(&server, "shop").await.len();

    for route in ["delete-for-me", "revoke"] {
        let (status, answer) = api
            .post(
                &format!("/api/messages/shop/{route}"),
                json!({ "message_id": "3EB0NOSUCHMESSAGE" }),
            )
            .await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (404, Some("message_not_found")),
            "{route}: {answer}"
        );
    }
    let (status, answer) = api
        .post("/api/messages/shop/delete-for-me", json!({ "message_id": "" }))
        .await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (422, Some("invalid_message_id"))
    );

    // A contact's message in a one-to-one chat is no one's to revoke but its author's.
    let direct = incoming(json!({ "from": CONTACT, "text": "hello" })).await;
    // In a group where the instance is a member but not an admin, nor
    // in one the network does not know the instance in.
    let (status, answer) = admin
        .post(
            "/sim/groups",
            json!({ "jid": GROUP, "members": [SHOP, CONTACT, ADMIN], "admins": [ADMIN] }),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let in_group = incoming(json!({ "from": CONTACT, "group": GROUP, "text": "spam" })).await;
    let elsewhere = incoming(json!({ "from": CONTACT, "group": "120363402106000299@g.us", "text": "spam" })).await;
    server.admin().plugins_settled().await;
    let (status, answer) = api
        .post("/api/messages/shop/revoke", json!({ "message_id": direct }))
        .await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (422, Some("not_own_message")),
        "{answer}"
    );
    for id in [&in_group, &elsewhere] {
        let (status, answer) = api.post("/api/messages/shop/revoke", json!({ "message_id": id })).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (403, Some("not_group_admin")),
            "{answer}"
        );
    }
    assert_eq!(
        crate::messaging::sent(&server, "shop").await.len(),
        before,
        "nothing was sent"
    );
    server.stop().await;
}
