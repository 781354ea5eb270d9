//! Small JID helpers the formats share. A JID is `user[.agent][:device]@server`.

/// The user part of a JID: `628123456789@s.whatsapp.net` → `628123456789`. The agent and
/// device suffixes are dropped because payloads name people, not their linked devices.
/// A string without `@` is returned unchanged.
pub fn user_part(jid: &str) -> &str {
    match jid.split_once('@') {
        Some((user, _server)) => user.split([':', '.']).next().unwrap_or(user),
        None => jid,
    }
}

/// Who said it, and where, as whatsmeow's `MessageSource.SourceString` writes it:
/// `sender in chat` when they differ (a participant in a group), else just the chat.
pub fn source_string(sender: &str, chat: &str) -> String {
    if sender == chat {
        chat.to_owned()
    } else {
        format!("{sender} in {chat}")
    }
}

/// The LID and phone-number fields of a payload whose shape must stay as its seed shows
/// it when no LID is involved: both present when the LID is known (the phone as `null`
/// when it is not), both absent otherwise. Without a LID the JID itself is the phone
/// number, so nothing is lost.
pub fn lid_pair<'a>(lid: Option<&'a str>, phone: Option<&'a str>) -> (Option<&'a str>, Option<Option<&'a str>>) {
    match lid {
        Some(lid) => (Some(lid), Some(phone)),
        None => (None, None),
    }
}

/// The participants of a group change by both names, when a LID is known for any of
/// them; `None` keeps the payload as the seed shows it.
pub fn participants_with_lids(participants: &[crate::ParticipantIds]) -> Option<&[crate::ParticipantIds]> {
    participants.iter().any(|p| p.lid.is_some()).then_some(participants)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_part_drops_server_agent_and_device() {
        assert_eq!(user_part("628123456789@s.whatsapp.net"), "628123456789");
        assert_eq!(user_part("628123456789:12@s.whatsapp.net"), "628123456789");
        assert_eq!(user_part("628123456789.0:3@s.whatsapp.net"), "628123456789");
        assert_eq!(user_part("120363402106000000@g.us"), "120363402106000000");
        assert_eq!(user_part("628123456789"), "628123456789");
    }

    #[test]
    fn source_string_names_the_chat_only_when_it_differs() {
        assert_eq!(
            source_string("a@s.whatsapp.net", "a@s.whatsapp.net"),
            "a@s.whatsapp.net"
        );
        assert_eq!(
            source_string("a@s.whatsapp.net", "g@g.us"),
            "a@s.whatsapp.net in g@g.us"
        );
    }
}
