//! Contacts and the instance's own profile, on both engines
//! (`wasap_tests::engines`): contacts learnt from traffic with their push
//! names, listed in pages and exported as CSV; a contact's picture and
//! about; names from the phone's address book (contact sync); block,
//! blocklist and unblock as WhatsApp recorded them; the own
//! push name, about and photo; privacy settings read and set; and bad input
//! refused with its code, nothing changed.

use base64::Engine as _;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use wasap_tests::both_engines;
use wasap_tests::engines::{EngineUnderTest, ListenedShop, OnlineShop, Saved};

const SHOP: &str = "6281111111111";
const BUDI: &str = "6281234567890";
const ANI: &str = "6281298765432";
const NOBODY: &str = "6281200000404";

both_engines!(
    senders_become_contacts_listed_in_pages_and_exported_as_csv,
    the_address_book_names_contacts,
    a_contacts_profile_and_blocking,
    the_own_profile_and_privacy_settings
);

fn contact_row(c: &Value) -> String {
    let field = |name: &str| c[name].as_str().unwrap_or_default().to_owned();
    let quoted = |f: String| {
        let f = if f.starts_with(['=', '+', '-', '@']) {
            format!("'{f}")
        } else {
            f
        };
        if f.contains([',', '"']) {
            format!("\"{}\"", f.replace('"', "\"\""))
        } else {
            f
        }
    };
    [
        field("jid"),
        field("phone"),
        field("lid"),
        quoted(field("push_name")),
        quoted(field("name")),
        field("first_seen"),
        field("last_seen"),
    ]
    .join(",")
}

async fn senders_become_contacts_listed_in_pages_and_exported_as_csv(engine: EngineUnderTest) {
    let mut shop = ListenedShop::start(engine, SHOP).await;
    let api = shop.api();
    shop.driver.contact(BUDI, true).await;
    shop.driver.contact(ANI, true).await;
    let (status, empty) = api.get("/api/contacts/shop").await;
    assert_eq!((status, &empty), (200, &json!({ "contacts": [], "next": null })));

    for (from, name, text) in [
        (BUDI, "Budi, \"B\"", "Hello"),
        (ANI, "=Ani", "Hi"),
        (BUDI, "Budi", "Again"),
    ] {
        let id = shop.driver.text_from(from, name, text).await;
        let frame = shop.listener.next_frame().await;
        assert_eq!(frame["data"]["message_id"], id.as_str(), "{frame}");
    }
    // Written before the message went on to the listeners.
    let (status, list) = api.get("/api/contacts/shop").await;
    assert_eq!(status, 200, "{list}");
    let contacts = list["contacts"].as_array().expect("the contacts").clone();
    let summary: Vec<(String, String, String)> = contacts
        .iter()
        .map(|c| {
            let field = |name: &str| c[name].as_str().unwrap_or_default().to_owned();
            (field("jid"), field("phone"), field("push_name"))
        })
        .collect();
    let expected: Vec<(String, String, String)> = [(BUDI, "Budi"), (ANI, "=Ani")]
        .into_iter()
        .map(|(phone, name)| (format!("{phone}@s.whatsapp.net"), phone.to_owned(), name.to_owned()))
        .collect();
    assert_eq!(summary, expected, "sorted by JID, the latest push name kept: {list}");
    assert_eq!(list["next"], Value::Null);
    for c in &contacts {
        assert!(c["first_seen"].as_str().is_some_and(|t| t.ends_with('Z')), "{c}");
        assert!(c["last_seen"].as_str() >= c["first_seen"].as_str(), "{c}");
    }

    // Pages of one: each names the next.
    let (_, first) = api.get("/api/contacts/shop?limit=1").await;
    assert_eq!(first["contacts"], json!([contacts[0]]));
    let next = first["next"].as_str().expect("a next page").to_owned();
    let (_, second) = api.get(&format!("/api/contacts/shop?limit=1&after={next}")).await;
    assert_eq!(second["contacts"], json!([contacts[1]]));
    let next = second["next"].as_str().expect("a next page").to_owned();
    let (_, last) = api.get(&format!("/api/contacts/shop?limit=1&after={next}")).await;
    assert_eq!(last, json!({ "contacts": [], "next": null }));

    // The CSV export: every contact, quoted where needed, formulas defused.
    let response = api.get_raw("/api/contacts/shop/export.csv", None).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/csv; charset=utf-8");
    assert_eq!(
        response.headers()["content-disposition"],
        "attachment; filename=\"contacts-shop.csv\""
    );
    let csv = response.text().await.expect("the CSV");
    let mut expected = String::from("jid,phone,lid,push_name,name,first_seen,last_seen\r\n");
    for c in &contacts {
        expected.push_str(&contact_row(c));
        expected.push_str("\r\n");
    }
    assert_eq!(csv, expected);
    assert!(csv.contains(",'=Ani,"), "{csv}");

    // Bad input, unknown instances.
    for (path, status, code) in [
        ("/api/contacts/shop?limit=0", 400, "invalid_query"),
        ("/api/contacts/shop?limit=1001", 400, "invalid_query"),
        ("/api/contacts/nope", 404, "instance_not_found"),
        ("/api/contacts/nope/export.csv", 404, "instance_not_found"),
    ] {
        let (got, body) = shop.server.admin().get(path).await;
        assert_eq!(
            (got, body["error"]["code"].as_str()),
            (status, Some(code)),
            "{path}: {body}"
        );
    }

    // Deleted with the instance.
    let (status, _) = shop.server.admin().delete("/api/instances/shop").await;
    assert_eq!(status, 200);
    let (status, created) = shop
        .server
        .admin()
        .post("/api/instances", json!({ "instance_id": "shop" }))
        .await;
    assert_eq!(status, 201, "{created}");
    let (status, list) = shop.server.admin().get("/api/contacts/shop").await;
    assert_eq!((status, list), (200, json!({ "contacts": [], "next": null })));
    shop.finish().await;
}

/// A number with no WhatsApp account, saved in the phone's address book.
const CITRA: &str = "6281300000001";

async fn the_address_book_names_contacts(engine: EngineUnderTest) {
    let mut shop = ListenedShop::start(engine, SHOP).await;
    let api = shop.api();
    shop.driver.contact(BUDI, true).await;
    shop.driver.contact(ANI, true).await;

    if engine == EngineUnderTest::Sim {
        // Bad input: refused with 422, nothing learnt.
        let many: Vec<Value> = (0..1001)
            .map(|i| json!({ "phone": format!("62813{i:08}"), "name": "X" }))
            .collect();
        for (body, code) in [
            (json!({ "contacts": [] }), "invalid_body"),
            (json!({ "contacts": many }), "invalid_body"),
            (json!({ "contacts": [{ "phone": BUDI }] }), "invalid_body"),
            (json!({ "contacts": [{ "phone": BUDI, "name": "  " }] }), "invalid_body"),
            (
                json!({ "contacts": [{ "phone": BUDI, "name": "Budi\nSantoso" }] }),
                "invalid_body",
            ),
            (
                json!({ "contacts": [{ "phone": BUDI, "first_name": "x".repeat(257) }] }),
                "invalid_body",
            ),
            (
                json!({ "contacts": [{ "phone": BUDI, "name": "Budi" }, { "phone": "12ab", "name": "Bad" }] }),
                "invalid_phone",
            ),
        ] {
            let (status, answer) = shop
                .server
                .admin()
                .post("/sim/instances/shop/address-book", body.clone())
                .await;
            assert_eq!(
                (status, answer["error"]["code"].as_str()),
                (422, Some(code)),
                "{body} → {answer}"
            );
        }
        let (status, answer) = shop
            .server
            .admin()
            .post(
                "/sim/instances/nope/address-book",
                json!({ "contacts": [{ "phone": BUDI, "name": "B" }] }),
            )
            .await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (404, Some("instance_not_found")),
            "{answer}"
        );
        let (status, empty) = api.get("/api/contacts/shop").await;
        assert_eq!((status, &empty), (200, &json!({ "contacts": [], "next": null })));
    }

    // The phone's address book syncs: the full name, else the first name.
    shop.driver
        .save_contacts(&[
            Saved {
                phone: BUDI,
                name: Some("Budi Santoso, \"Pak\""),
                first_name: Some("Budi"),
            },
            Saved {
                phone: ANI,
                name: None,
                first_name: Some("=Ani"),
            },
            Saved {
                phone: CITRA,
                name: Some("Citra"),
                first_name: None,
            },
        ])
        .await;
    let (status, list) = api.get("/api/contacts/shop").await;
    assert_eq!(status, 200, "{list}");
    let contacts = list["contacts"].as_array().expect("the contacts").clone();
    let summary: Vec<(String, String, Option<String>, Option<String>)> = contacts
        .iter()
        .map(|c| {
            let field = |name: &str| c[name].as_str().map(str::to_owned);
            (
                field("jid").unwrap_or_default(),
                field("phone").unwrap_or_default(),
                field("name"),
                field("push_name"),
            )
        })
        .collect();
    let expected: Vec<(String, String, Option<String>, Option<String>)> =
        [(BUDI, "Budi Santoso, \"Pak\""), (ANI, "=Ani"), (CITRA, "Citra")]
            .into_iter()
            .map(|(phone, name)| {
                (
                    format!("{phone}@s.whatsapp.net"),
                    phone.to_owned(),
                    Some(name.to_owned()),
                    None,
                )
            })
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
    assert_eq!(summary, expected, "sorted by JID: {list}");
    for c in &contacts {
        assert_eq!(c["first_seen"], c["last_seen"], "{c}");
        // WhatsApp's sync names a contact's LID when it has an account (the
        // simulator's accounts all have one; the sim engine's only when registered with one).
        let has_lid = engine == EngineUnderTest::Real && c["phone"] != CITRA;
        assert_eq!(c["lid"].as_str().is_some_and(|l| l.ends_with("@lid")), has_lid, "{c}");
    }

    // The CSV shows the names, quoted and defused.
    let response = api.get_raw("/api/contacts/shop/export.csv", None).await;
    assert_eq!(response.status(), 200);
    let csv = response.text().await.expect("the CSV");
    let mut expected = String::from("jid,phone,lid,push_name,name,first_seen,last_seen\r\n");
    for c in &contacts {
        expected.push_str(&contact_row(c));
        expected.push_str("\r\n");
    }
    assert_eq!(csv, expected);
    assert!(csv.contains(",\"Budi Santoso, \"\"Pak\"\"\","), "{csv}");
    assert!(csv.contains(",'=Ani,"), "{csv}");

    // A message from a synced contact sets its push name and keeps the name.
    let id = shop.driver.text_from(BUDI, "Budi P", "Hello").await;
    let frame = shop.listener.next_frame().await;
    assert_eq!(frame["data"]["message_id"], id.as_str(), "{frame}");
    let (_, after) = api.get("/api/contacts/shop").await;
    let budi = after["contacts"]
        .as_array()
        .and_then(|all| all.iter().find(|c| c["phone"] == BUDI))
        .expect("Budi")
        .clone();
    assert_eq!(
        (&budi["name"], &budi["push_name"]),
        (&json!("Budi Santoso, \"Pak\""), &json!("Budi P")),
        "{budi}"
    );
    let others = |list: &Value| -> Vec<Value> {
        list["contacts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["phone"] != BUDI)
            .cloned()
            .collect()
    };
    assert_eq!(others(&after), others(&list), "the others unchanged");

    // A later sync renames a contact; the push name stays.
    shop.driver
        .save_contacts(&[Saved {
            phone: BUDI,
            name: Some("Budi (Shop)"),
            first_name: None,
        }])
        .await;
    let (_, renamed) = api.get("/api/contacts/shop").await;
    let budi = renamed["contacts"]
        .as_array()
        .and_then(|all| all.iter().find(|c| c["phone"] == BUDI))
        .cloned();
    assert_eq!(
        budi.as_ref().map(|b| (&b["name"], &b["push_name"])),
        Some((&json!("Budi (Shop)"), &json!("Budi P"))),
        "{renamed}"
    );
    shop.finish().await;
}

async fn a_contacts_profile_and_blocking(engine: EngineUnderTest) {
    let OnlineShop {
        whatsapp,
        server,
        token,
        driver,
    } = OnlineShop::start(engine, SHOP).await;
    let api = server.client(Some(&token));
    let budi_jid = format!("{BUDI}@s.whatsapp.net");
    let budi_lid = driver.contact_with_lid(BUDI).await;
    driver.contact(NOBODY, false).await;
    let picture_id = driver.contact_profile(BUDI, "At the shop until 5").await;

    for who in [BUDI.to_owned(), budi_jid.clone(), budi_jid.replace('@', "%40")] {
        let (status, profile) = api.get(&format!("/api/contacts/shop/{who}/profile")).await;
        assert_eq!(status, 200, "{who}: {profile}");
        assert_eq!(profile["jid"], budi_jid.as_str(), "{profile}");
        assert_eq!(profile["about"], "At the shop until 5", "{profile}");
        assert_eq!(profile["picture"]["id"], picture_id.as_str(), "{profile}");
        assert!(
            profile["picture"]["url"]
                .as_str()
                .is_some_and(|u| u.contains(&picture_id)),
            "{profile}"
        );
    }

    let (status, blocked) = api.post_empty(&format!("/api/contacts/shop/{BUDI}/block")).await;
    assert_eq!((status, &blocked), (200, &json!({ "jid": budi_jid, "blocked": true })));
    let (status, list) = api.get("/api/contacts/shop/blocklist").await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list, json!({ "blocked": [{ "jid": budi_jid, "lid": budi_lid }] }));
    assert_eq!(driver.account_record().await.blocked, std::slice::from_ref(&budi_jid));

    let (status, unblocked) = api.post_empty(&format!("/api/contacts/shop/{budi_jid}/unblock")).await;
    assert_eq!(
        (status, &unblocked),
        (200, &json!({ "jid": budi_jid, "blocked": false }))
    );
    let (_, list) = api.get("/api/contacts/shop/blocklist").await;
    assert_eq!(list, json!({ "blocked": [] }));
    assert_eq!(driver.account_record().await.blocked, Vec::<String>::new());

    // Refused, nothing blocked.
    for (path, status, code) in [
        (
            format!("/api/contacts/shop/{NOBODY}/profile"),
            404,
            "contact_not_on_whatsapp",
        ),
        (
            format!("/api/contacts/shop/{NOBODY}/block"),
            404,
            "contact_not_on_whatsapp",
        ),
        ("/api/contacts/shop/12ab/profile".to_owned(), 422, "invalid_phone"),
        ("/api/contacts/shop/12ab/block".to_owned(), 422, "invalid_phone"),
        ("/api/contacts/shop/120363000@g.us/block".to_owned(), 422, "invalid_jid"),
        (
            "/api/contacts/shop/x@example.com/profile".to_owned(),
            422,
            "invalid_jid",
        ),
    ] {
        let (got, body) = if path.ends_with("/profile") {
            api.get(&path).await
        } else {
            api.post_empty(&path).await
        };
        assert_eq!(
            (got, body["error"]["code"].as_str()),
            (status, Some(code)),
            "{path}: {body}"
        );
    }
    assert_eq!(driver.account_record().await.blocked, Vec::<String>::new());
    server.stop().await;
    whatsapp.assert_all_handled();
}

async fn the_own_profile_and_privacy_settings(engine: EngineUnderTest) {
    let OnlineShop {
        whatsapp,
        server,
        token,
        driver,
    } = OnlineShop::start(engine, SHOP).await;
    let api = server.client(Some(&token));
    let shop_jid = format!("{SHOP}@s.whatsapp.net");

    let (status, profile) = api.get("/api/instances/shop/profile").await;
    assert_eq!(status, 200, "{profile}");
    assert_eq!(
        profile,
        json!({ "jid": shop_jid, "push_name": "Shop", "about": null, "picture": null })
    );

    let patch = json!({ "push_name": "Shop & Co", "about": "Open 9 to 5" });
    let (status, changed) = api
        .send(reqwest::Method::PATCH, "/api/instances/shop/profile", Some(patch))
        .await;
    assert_eq!(status, 200, "{changed}");
    let expected = json!({ "jid": shop_jid, "push_name": "Shop & Co", "about": "Open 9 to 5", "picture": null });
    assert_eq!(changed, expected);
    assert_eq!(api.get("/api/instances/shop/profile").await, (200, expected));
    assert_eq!(driver.account_record().await.about.as_deref(), Some("Open 9 to 5"));

    // The photo: a JPEG set, shown, removed.
    let jpeg: Vec<u8> = [&[0xFF, 0xD8, 0xFF, 0xE0][..], &[7u8; 600][..], &[0xFF, 0xD9][..]].concat();
    let image = base64::engine::general_purpose::STANDARD.encode(&jpeg);
    let (status, set) = api
        .post("/api/instances/shop/profile/photo", json!({ "image": image }))
        .await;
    assert_eq!(status, 200, "{set}");
    let picture_id = set["picture_id"].as_str().expect("the picture's id").to_owned();
    let record = driver.account_record().await;
    assert_eq!(record.picture_sha256, Some(hex::encode(Sha256::digest(&jpeg))));
    let (_, profile) = api.get("/api/instances/shop/profile").await;
    assert_eq!(profile["picture"]["id"], picture_id.as_str(), "{profile}");

    // Refused photos change nothing.
    let png = base64::engine::general_purpose::STANDARD.encode(b"\x89PNG\r\n\x1a\n0000");
    let huge = base64::engine::general_purpose::STANDARD.encode(vec![0xFFu8; 1024 * 1024 + 1]);
    for (body, status, code) in [
        (json!({ "image": png }), 415, "unsupported_image"),
        (
            json!({ "image": format!("data:image/png;base64,{image}") }),
            415,
            "unsupported_image",
        ),
        (json!({ "image": huge }), 413, "photo_too_large"),
        (json!({ "image": "not base64!" }), 422, "invalid_base64"),
        (json!({ "picture": image }), 422, "invalid_body"),
    ] {
        let (got, answer) = api.post("/api/instances/shop/profile/photo", body).await;
        assert_eq!(
            (got, answer["error"]["code"].as_str()),
            (status, Some(code)),
            "{answer}"
        );
    }
    assert_eq!(driver.account_record().await.picture_sha256, record.picture_sha256);

    let (status, removed) = api.delete("/api/instances/shop/profile/photo").await;
    assert_eq!((status, removed), (200, json!({ "picture_id": null })));
    let (_, profile) = api.get("/api/instances/shop/profile").await;
    assert_eq!(profile["picture"], Value::Null, "{profile}");

    // Refused profile changes.
    for patch in [
        json!({ "push_name": "" }),
        json!({ "push_name": "n".repeat(26) }),
        json!({ "about": "a".repeat(140) }),
        json!({}),
    ] {
        let (status, answer) = api
            .send(
                reqwest::Method::PATCH,
                "/api/instances/shop/profile",
                Some(patch.clone()),
            )
            .await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (422, Some("invalid_profile")),
            "{patch}: {answer}"
        );
    }

    // Privacy: WhatsApp's defaults, two changed, bad changes refused whole.
    let defaults = json!({
        "last_seen": "all", "online": "all", "profile_photo": "all", "about": "contacts",
        "groups_add": "all", "read_receipts": "all", "calls_add": "all", "messages": "all"
    });
    assert_eq!(api.get("/api/instances/shop/privacy").await, (200, defaults.clone()));
    let (status, changed) = api
        .send(
            reqwest::Method::PATCH,
            "/api/instances/shop/privacy",
            Some(json!({ "last_seen": "contacts", "read_receipts": "none" })),
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    let mut expected = defaults.clone();
    expected["last_seen"] = json!("contacts");
    expected["read_receipts"] = json!("none");
    assert_eq!(changed, expected);
    let recorded = driver.account_record().await.privacy;
    assert_eq!(
        recorded.into_iter().collect::<Vec<_>>(),
        [
            ("last".to_owned(), "contacts".to_owned()),
            ("readreceipts".to_owned(), "none".to_owned())
        ]
    );
    for (patch, code) in [
        (json!({ "lastseen": "all" }), "unknown_privacy_setting"),
        (json!({ "online": "none" }), "invalid_privacy_value"),
        (
            json!({ "last_seen": "none", "online": "none" }),
            "invalid_privacy_value",
        ),
        (json!({ "last_seen": "contact_blacklist" }), "invalid_privacy_value"),
    ] {
        let (status, answer) = api
            .send(
                reqwest::Method::PATCH,
                "/api/instances/shop/privacy",
                Some(patch.clone()),
            )
            .await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (422, Some(code)),
            "{patch}: {answer}"
        );
    }
    assert_eq!(api.get("/api/instances/shop/privacy").await, (200, expected));

    // An instance that is not connected.
    let (status, _) = server
        .admin()
        .post("/api/instances", json!({ "instance_id": "idle" }))
        .await;
    assert_eq!(status, 201);
    for path in [
        "/api/instances/idle/profile",
        "/api/instances/idle/privacy",
        "/api/contacts/idle/blocklist",
    ] {
        let (status, answer) = server.admin().get(path).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (503, Some("instance_not_connected")),
            "{path}: {answer}"
        );
    }
    server.stop().await;
    whatsapp.assert_all_handled();
}
