//! Which events a webhook subscribes to.
//!
//! A webhook's `events` list names event kinds by their canonical names
//! (`message`, `receipt`, ...); the names the payload formats use
//! (`incoming_message`, `message.ack`, `group.participants`, ...) are
//! accepted too and stored as the canonical kind, so a user may write
//! either. An empty list subscribes to every kind but the opt-in ones
//! ([`EventKind::OPT_IN`]: the send queue's `queue_job`), which a webhook
//! gets only by naming them; the global webhooks, which have no list, never
//! get them. Both name lists are [`EventKind::NAMES`] and
//! [`EventKind::FORMAT_NAMES`].

use wasap_events::EventKind;

/// The canonical kind `name` stands for, if any ([`EventKind::kind_name`]).
pub fn canonical_kind(name: &str) -> Option<&'static str> {
    EventKind::kind_name(name.trim())
}

/// The canonical kinds of `names`, without repeats; the first unknown name
/// is the error.
pub fn canonical_kinds(names: &[String]) -> Result<Vec<String>, String> {
    let mut kinds: Vec<String> = Vec::new();
    for name in names {
        let kind = canonical_kind(name).ok_or_else(|| name.clone())?;
        if !kinds.iter().any(|k| k == kind) {
            kinds.push(kind.to_owned());
        }
    }
    Ok(kinds)
}

/// Whether a webhook subscribed to `kinds` wants an event of kind `kind`.
pub fn wants(kinds: &[String], kind: &str) -> bool {
    if kinds.is_empty() {
        return !EventKind::OPT_IN.contains(&kind);
    }
    kinds.iter().any(|k| k == kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_names_map_to_canonical_kinds() {
        let names = ["incoming_message", "message", "message.ack", "group.participants"].map(String::from);
        assert_eq!(
            canonical_kinds(&names).unwrap(),
            ["message", "receipt", "group_participants"]
        );
        assert_eq!(canonical_kinds(&["nope".to_owned()]), Err("nope".to_owned()));
        assert!(wants(&[], "qr"));
        assert!(wants(&["message".to_owned()], "message"));
        assert!(!wants(&["message".to_owned()], "receipt"));
        assert!(!wants(&[], "queue_job"), "opt-in");
        assert!(wants(&["queue_job".to_owned()], "queue_job"));
    }

    /// The dashboard is plain JS with no build step, so its feed filter keeps
    /// its own copy of the kind names (as the sudevwa frames it shows name
    /// them); this keeps the copy naming every kind once, and nothing else.
    #[test]
    fn the_dashboard_feed_offers_every_kind_once() {
        let feed = include_str!("../../dashboard/feed.js");
        let list = feed
            .split_once("const KINDS = [")
            .and_then(|(_, rest)| rest.split_once("];"))
            .expect("feed.js declares `const KINDS = [...];`")
            .0;
        let names: Vec<&str> = list.split('"').skip(1).step_by(2).collect();
        let mut kinds: Vec<&str> = names
            .iter()
            .map(|name| canonical_kind(name).unwrap_or_else(|| panic!("feed.js names no kind: {name}")))
            .collect();
        kinds.sort_unstable();
        let mut expected = EventKind::NAMES;
        expected.sort_unstable();
        assert_eq!(kinds, expected, "feed.js's KINDS against EventKind::NAMES");
    }
}
