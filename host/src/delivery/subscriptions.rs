//! Which events a webhook subscribes to, and the formats a webhook may use.
//!
//! A webhook's `events` list names event kinds by their canonical names
//! (`message`, `receipt`, ...); the names the payload formats use
//! (`incoming_message`, `message.ack`, `group.participants`, ...) are
//! accepted too and stored as the canonical kind, so a user may write
//! either. An empty list subscribes to every kind.

/// The payload formats a configured webhook may use.
pub const FORMATS: [&str; 2] = ["sudevwa", "gowa"];

/// Canonical event kind names (`Event::name`).
pub const KINDS: [&str; 9] = [
    "message",
    "receipt",
    "group_participants",
    "qr",
    "instance_status",
    "instance_paired",
    "instance_logged_out",
    "plugin_error",
    "system",
];

/// The canonical kind `name` stands for, if any.
pub fn canonical_kind(name: &str) -> Option<&'static str> {
    let name = name.trim();
    if let Some(kind) = KINDS.iter().find(|k| **k == name) {
        return Some(kind);
    }
    Some(match name {
        "incoming_message" => "message",
        "message.receipt" | "message.ack" => "receipt",
        "group.participants" => "group_participants",
        "instance.status" => "instance_status",
        "instance.paired" => "instance_paired",
        "instance.logged_out" => "instance_logged_out",
        "plugin.error" => "plugin_error",
        _ => return None,
    })
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
    kinds.is_empty() || kinds.iter().any(|k| k == kind)
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
    }
}
