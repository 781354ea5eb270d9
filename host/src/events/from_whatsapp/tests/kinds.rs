//! One test per kind of content: media, contacts, locations, reactions, revokes, edits.

use super::*;

#[test]
fn an_image_carries_its_media_fields_and_what_to_download() {
    let wa_image = image("look");
    let message = wa::Message {
        image_message: some(wa_image.clone()),
        ..Default::default()
    };
    let (message, media) = convert(message, group_in());
    assert_eq!(
        message.content,
        Content::Image(media_of("image/png", Some("look"), None, 1234))
    );
    assert_eq!(message.text_or_caption(), Some("look"));
    let media = media.expect("an image is downloaded");
    assert_eq!(media, WaMedia::Image(wa_image));
    assert_eq!(media.declared_length(), Some(1234));
    assert_eq!(media.downloadable().direct_path(), Some("/v/t62/abc"));
}

#[test]
fn videos_and_video_notes_are_videos() {
    let video = wa::message::VideoMessage {
        mimetype: Some("video/mp4".to_owned()),
        caption: Some("clip".to_owned()),
        file_length: Some(99),
        file_sha256: Some(vec![0x01]),
        ..Default::default()
    };
    let message = wa::Message {
        video_message: some(video.clone()),
        ..Default::default()
    };
    let (converted, media) = convert(message, direct_in());
    assert_eq!(
        converted.content,
        Content::Video(media_of("video/mp4", Some("clip"), None, 99))
    );
    assert_eq!(media, Some(WaMedia::Video(video.clone())));

    let note = wa::Message {
        ptv_message: some(video.clone()),
        ..Default::default()
    };
    let (converted, media) = convert(note, direct_in());
    assert!(matches!(converted.content, Content::Video(_)));
    assert_eq!(media, Some(WaMedia::Video(video)));
}

#[test]
fn an_audio_carries_mime_and_size_but_no_hash_before_its_download() {
    let audio = wa::message::AudioMessage {
        mimetype: Some("audio/ogg; codecs=opus".to_owned()),
        file_length: Some(4096),
        file_sha256: Some(vec![0xff, 0x00]),
        ptt: Some(true),
        ..Default::default()
    };
    let message = wa::Message {
        audio_message: some(audio.clone()),
        ..Default::default()
    };
    let (converted, media) = convert(message, direct_in());
    assert_eq!(
        converted.content,
        Content::Audio(media_of("audio/ogg; codecs=opus", None, None, 4096))
    );
    assert_eq!(media, Some(WaMedia::Audio(audio)));
}

#[test]
fn a_captioned_document_is_unwrapped_from_document_with_caption() {
    let document = wa::message::DocumentMessage {
        mimetype: Some("application/pdf".to_owned()),
        caption: Some("the invoice".to_owned()),
        file_name: Some("invoice.pdf".to_owned()),
        file_length: Some(2048),
        file_sha256: Some(vec![0x12, 0x34]),
        ..Default::default()
    };
    let message = wa::Message {
        document_with_caption_message: future_proof(wa::Message {
            document_message: some(document.clone()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let (converted, media) = convert(message, direct_in());
    assert_eq!(
        converted.content,
        Content::Document(media_of(
            "application/pdf",
            Some("the invoice"),
            Some("invoice.pdf"),
            2048
        ))
    );
    assert_eq!(media, Some(WaMedia::Document(document)));
}

#[test]
fn a_sticker_defaults_its_mime_type() {
    let sticker = wa::message::StickerMessage {
        file_length: Some(10),
        file_sha256: Some(vec![0x0a]),
        ..Default::default()
    };
    let message = wa::Message {
        sticker_message: some(sticker.clone()),
        ..Default::default()
    };
    let (converted, media) = convert(message, group_in());
    assert_eq!(
        converted.content,
        Content::Sticker(media_of("image/webp", None, None, 10))
    );
    assert_eq!(media, Some(WaMedia::Sticker(sticker)));
}

#[test]
fn a_contact_carries_its_vcard() {
    let vcard = "BEGIN:VCARD\nVERSION:3.0\nFN:Budi\nTEL;waid=628111:+62 811 1\nEND:VCARD";
    let message = wa::Message {
        contact_message: some(wa::message::ContactMessage {
            display_name: Some("Budi".to_owned()),
            vcard: Some(vcard.to_owned()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let (converted, media) = convert(message, direct_in());
    assert_eq!(
        converted.content,
        Content::Contact {
            display_name: "Budi".to_owned(),
            vcard: vcard.to_owned()
        }
    );
    assert!(media.is_none());
}

#[test]
fn a_location_carries_its_thumbnail_as_base64() {
    let message = wa::Message {
        location_message: some(wa::message::LocationMessage {
            degrees_latitude: Some(-6.2),
            degrees_longitude: Some(106.8),
            name: Some("Monas".to_owned()),
            address: Some("Jakarta".to_owned()),
            jpeg_thumbnail: Some(vec![0xff, 0xd8, 0xff]),
            ..Default::default()
        }),
        ..Default::default()
    };
    let (converted, _) = convert(message, direct_in());
    assert_eq!(
        converted.content,
        Content::Location {
            latitude: -6.2,
            longitude: 106.8,
            name: Some("Monas".to_owned()),
            address: Some("Jakarta".to_owned()),
            thumbnail_base64: Some("/9j/".to_owned()),
        }
    );
}

#[test]
fn a_reaction_names_its_emoji_and_target() {
    let message = wa::Message {
        reaction_message: some(wa::message::ReactionMessage {
            key: key("TARGET1", true),
            text: Some("👍".to_owned()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let (converted, _) = convert(message, direct_in());
    assert_eq!(converted.id, "3EB0AA");
    assert_eq!(
        converted.content,
        Content::Reaction {
            emoji: "👍".to_owned(),
            target_id: "TARGET1".to_owned()
        }
    );
}

fn protocol(message: wa::message::ProtocolMessage) -> wa::Message {
    wa::Message {
        protocol_message: some(message),
        ..Default::default()
    }
}

#[test]
fn a_revoke_names_the_target_and_whose_it_was() {
    let revoke = |from_me| {
        protocol(wa::message::ProtocolMessage {
            key: key("GONE1", from_me),
            r#type: Some(ProtocolType::REVOKE),
            ..Default::default()
        })
    };
    // The contact deleted their own message: the key is "from me" on their side.
    let (converted, _) = convert(revoke(true), direct_in());
    assert_eq!(
        converted.content,
        Content::Revoked {
            target_id: "GONE1".to_owned(),
            target_chat: CONTACT_JID.to_owned(),
            target_from_me: false
        }
    );
    // We deleted ours from the phone.
    let (converted, _) = convert(revoke(true), direct_out());
    assert_eq!(
        converted.content,
        Content::Revoked {
            target_id: "GONE1".to_owned(),
            target_chat: CONTACT_JID.to_owned(),
            target_from_me: true
        }
    );
    assert!(converted.from_me);
}

#[test]
fn an_edit_names_the_original_id_and_the_new_text() {
    let edit = protocol(wa::message::ProtocolMessage {
        key: key("ORIG1", false),
        r#type: Some(ProtocolType::MESSAGE_EDIT),
        edited_message: some(text("fixed typo")),
        timestamp_ms: Some(AT * 1000),
        ..Default::default()
    });
    // WhatsApp wraps edits in `editedMessage`.
    let message = wa::Message {
        edited_message: future_proof(edit),
        ..Default::default()
    };
    let (converted, _) = convert(message, group_in());
    assert_eq!(
        converted.content,
        Content::Edited {
            target_id: "ORIG1".to_owned(),
            text: "fixed typo".to_owned()
        }
    );
    assert_eq!(converted.text_or_caption(), Some("fixed typo"));
}

#[test]
fn other_protocol_messages_and_empty_messages_are_not_messages() {
    let setting = protocol(wa::message::ProtocolMessage {
        key: key("X", false),
        r#type: Some(ProtocolType::EPHEMERAL_SETTING),
        ..Default::default()
    });
    assert!(message(&inbound(setting, direct_in())).is_none());
    assert!(message(&inbound(wa::Message::default(), direct_in())).is_none());
}
