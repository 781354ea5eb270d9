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
