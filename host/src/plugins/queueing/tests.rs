//! A queued send's job is the body its route would queue, field for field in
//! the route's names (the black-box test sends each kind through the queue);
//! `send-at-us` becomes the queue's milliseconds, never earlier, and one too
//! far ahead is refused as the routes refuse it.

use super::*;

const TO: &str = "6281234567890";

fn text(preview: Option<types::LinkPreview>) -> types::SendText {
    types::SendText {
        to: TO.to_owned(),
        text: "see https://toko.example".to_owned(),
        reply_to: Some("3EB0".to_owned()),
        mentions: vec!["6281200005555".to_owned()],
        mention_all: true,
        link_preview: preview,
    }
}

#[test]
fn a_text_is_the_send_routes_body_without_its_defaults() {
    let (to, plain) = job(types::QueuedMessage::Text(types::SendText {
        to: TO.to_owned(),
        text: "hi".to_owned(),
        reply_to: None,
        mentions: Vec::new(),
        mention_all: false,
        link_preview: None,
    }));
    assert_eq!(to, TO);
    assert_eq!(
        plain,
        Job {
            kind: "text",
            request: json!({ "to": TO, "message": "hi" }),
        }
    );
    let (_, fetched) = job(types::QueuedMessage::Text(text(Some(types::LinkPreview::Fetch))));
    assert_eq!(
        fetched.request,
        json!({ "to": TO, "message": "see https://toko.example", "reply_to": "3EB0",
                "mentions": ["6281200005555"], "mention_all": true, "link_preview": true })
    );
    let given = types::LinkPreview::Given(types::GivenLinkPreview {
        url: "https://toko.example".to_owned(),
        title: "Toko".to_owned(),
        description: Some("Everything".to_owned()),
        thumbnail: Some(vec![0xff, 0xd8, 0xff]),
    });
    let (_, given) = job(types::QueuedMessage::Text(text(Some(given))));
    assert_eq!(
        given.request["link_preview"],
        json!({ "url": "https://toko.example", "title": "Toko", "description": "Everything", "thumbnail": "/9j/" })
    );
}

#[test]
fn media_locations_cards_and_polls_are_their_routes_bodies() {
    let media = types::SendMedia {
        to: TO.to_owned(),
        url: "https://files.example/a.ogg".to_owned(),
        media_type: types::MediaType::Voice,
        caption: Some("listen @6281200005555".to_owned()),
        file_name: Some("greeting.ogg".to_owned()),
        view_once: true,
        mentions: vec!["6281200005555".to_owned()],
    };
    assert_eq!(
        job(types::QueuedMessage::Media(media)).1,
        Job {
            kind: "media_url",
            request: json!({ "to": TO, "mediaUrl": "https://files.example/a.ogg", "mediaType": "voice",
                             "caption": "listen @6281200005555", "fileName": "greeting.ogg", "viewOnce": true,
                             "mentions": ["6281200005555"] }),
        }
    );
    let place = types::SendLocation {
        to: TO.to_owned(),
        latitude: -6.175392,
        longitude: 106.827153,
        name: Some("Monas".to_owned()),
        address: None,
    };
    assert_eq!(
        job(types::QueuedMessage::Location(place)).1,
        Job {
            kind: "location",
            request: json!({ "to": TO, "latitude": -6.175392, "longitude": 106.827153, "name": "Monas" }),
        }
    );
    let cards = types::SendContacts {
        to: TO.to_owned(),
        cards: vec![
            types::CardToSend {
                name: "Ani".to_owned(),
                phone: Some("6281200002222".to_owned()),
                vcard: None,
            },
            types::CardToSend {
                name: "Budi".to_owned(),
                phone: None,
                vcard: Some("BEGIN:VCARD\nEND:VCARD".to_owned()),
            },
        ],
    };
    assert_eq!(
        job(types::QueuedMessage::Contacts(cards)).1,
        Job {
            kind: "contact",
            request: json!({ "to": TO, "contacts": [
                { "name": "Ani", "phone": "6281200002222" },
                { "name": "Budi", "vcard": "BEGIN:VCARD\nEND:VCARD" },
            ] }),
        }
    );
    let poll = types::SendPoll {
        to: TO.to_owned(),
        name: "Lunch?".to_owned(),
        options: vec!["Rice".to_owned(), "Soup".to_owned()],
        selectable_count: 1,
    };
    assert_eq!(
        job(types::QueuedMessage::Poll(poll)).1,
        Job {
            kind: "poll",
            request: json!({ "to": TO, "name": "Lunch?", "options": ["Rice", "Soup"], "selectableCount": 1 }),
        }
    );
}

#[test]
fn send_at_is_in_milliseconds_never_earlier_and_at_most_366_days_ahead() {
    let now_ms = 1_700_000_000_000;
    assert_eq!(send_at_ms(1_700_000_060_000_000, now_ms).unwrap(), 1_700_000_060_000);
    assert_eq!(send_at_ms(1_700_000_060_000_001, now_ms).unwrap(), 1_700_000_060_001);
    // The past is "as soon as may be", as for the routes.
    assert_eq!(send_at_ms(-1_500, now_ms).unwrap(), -1);
    let limit_us = (now_ms + MAX_SCHEDULE_DAYS * 24 * 3600 * 1000) * 1000;
    assert!(send_at_ms(limit_us, now_ms).is_ok());
    let too_far = send_at_ms(limit_us + 1000, now_ms);
    assert!(
        matches!(too_far, Err(QueueError::SendAt(SendAtError::TooFar(366)))),
        "{too_far:?}"
    );
    assert!(send_at_ms(i64::MAX, now_ms).is_err());
    assert!(send_at_ms(i64::MIN, now_ms).is_ok());
}
