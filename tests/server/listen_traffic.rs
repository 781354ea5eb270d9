//! What an instance's WebSocket listener (`/api/listen/{id}`) and the global
//! `/ws` carry of inbound traffic, on both engines (`wasap_tests::engines`):
//! each instance's listener gets its own messages, receipts and group events
//! and nothing of another's, in the seed's `incoming_message` shape; `/ws`
//! carries none of them. The sockets themselves (tokens, caps, slow readers)
//! are `websockets.rs`, on the sim engine.

use serde_json::json;
use wasap_tests::engines::{EngineUnderTest, Sender, Whatsapp};
use wasap_tests::websocket::{Token, open};
use wasap_tests::{TestDb, both_engines, data_dir};

const CONTACT: &str = "6281234567890";
const ADMIN: &str = "6281200000009";
const GROUP: &str = "120363402106000000@g.us";

both_engines!(listen_gets_only_its_own_instances_messages_receipts_and_group_events);

async fn listen_gets_only_its_own_instances_messages_receipts_and_group_events(engine: EngineUnderTest) {
    let whatsapp = Whatsapp::start(engine).await;
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut server = whatsapp.server(&db, dir.path()).await;
    let shop = whatsapp.online(&mut server, "shop", "6281111111111").await;
    whatsapp.online(&mut server, "other", "6282222222222").await;
    let mut listen_shop = open(&server, "/api/listen/shop", Token::Query(&shop)).await;
    let mut listen_other = open(&server, "/api/listen/other", Token::Header(&server.admin_token.clone())).await;
    let mut ws = open(&server, "/ws", Token::Header(&server.admin_token.clone())).await;
    let to_shop = whatsapp.driver(&server, "shop");
    let to_other = whatsapp.driver(&server, "other");
    let john = Sender::contact(CONTACT, "John Doe");

    to_other.text_message_from(john, "for other").await;
    let id = to_shop.text_message_from(john, "Hello World").await;
    let frame = listen_shop.next_frame().await;
    assert_eq!(frame["event"], "incoming_message", "{frame}");
    let data = &frame["data"];
    // Exactly the source document's fields.
    assert_eq!(
        data,
        &json!({
            "instance_id": "shop",
            "from": format!("{CONTACT}@s.whatsapp.net"),
            "from_me": false,
            "message": "Hello World",
            "timestamp": data["timestamp"],
            "is_group": false,
            "message_id": id,
            "push_name": "John Doe",
        })
    );
    assert!(data["timestamp"].as_i64().is_some_and(|t| t > 1_600_000_000), "{data}");
    assert!(frame["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')), "{frame}");

    to_shop.receipt_from(CONTACT, &[&id], "read").await;
    let receipt = listen_shop.next_frame().await;
    assert_eq!(receipt["event"], "message.receipt", "{receipt}");
    assert_eq!(
        (
            receipt["data"]["instance_id"].as_str(),
            receipt["data"]["receipt_type"].as_str()
        ),
        (Some("shop"), Some("read"))
    );
    assert_eq!(receipt["data"]["ids"], json!([id]));

    to_shop.group(GROUP, "Shop talk", ADMIN, &[]).await;
    to_shop.group_participants(GROUP, CONTACT, "join", &[CONTACT]).await;
    let joined = listen_shop.next_frame().await;
    assert_eq!(joined["event"], "group.participants", "{joined}");
    assert_eq!(
        (
            joined["data"]["group"].as_str(),
            joined["data"]["action"].as_str(),
            joined["data"]["jids"].clone()
        ),
        (Some(GROUP), Some("join"), json!([format!("{CONTACT}@s.whatsapp.net")]))
    );

    // The other instance's listener got its own message and nothing of shop's.
    let theirs = listen_other.next_frame().await;
    assert_eq!(
        (theirs["event"].as_str(), theirs["data"]["message"].as_str()),
        (Some("incoming_message"), Some("for other"))
    );
    to_other.text_message_from(john, "marker").await;
    assert_eq!(listen_other.next_frame().await["data"]["message"], "marker");
    to_shop.text_message_from(john, "marker").await;
    assert_eq!(listen_shop.next_frame().await["data"]["message"], "marker");

    // /ws carries no message traffic: up to the status change, every frame
    // there is a global one. (Late frames of the two pairings may come first:
    // the output publishes each instance's events as its plugin worker gets
    // to them, which can be after the socket opened.)
    to_shop.disconnect().await;
    loop {
        let frame = ws.next_frame().await;
        let event = frame["event"].as_str().unwrap_or_default();
        assert!(["qr", "instance.status", "instance.paired"].contains(&event), "{frame}");
        if (event, frame["data"]["instance_id"].as_str()) == ("instance.status", Some("shop"))
            && frame["data"]["status"] != "online"
        {
            break;
        }
    }
    server.stop().await;
    whatsapp.assert_all_handled();
}
