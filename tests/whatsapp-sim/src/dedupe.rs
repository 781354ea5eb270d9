//! WhatsApp takes a message id once per sender: a client that sends a
//! message again with the id it already went with (after a crash, not
//! knowing whether the first send got through) gets the server's ack, and
//! nobody gets the message a second time. A resend the recipient asked for
//! with a retry receipt is another matter: its `<enc>` carries the retry
//! `count`, and it goes through.

use std::collections::{HashSet, VecDeque};

use wacore_binary::Node;

use crate::nodes::attr;

/// Message ids remembered at most; the oldest are forgotten first.
const REMEMBERED: usize = 100_000;

/// The `(sender account, message id)` pairs the server took, newest last.
#[derive(Default)]
pub struct TakenIds {
    taken: HashSet<(String, String)>,
    order: VecDeque<(String, String)>,
}

impl TakenIds {
    /// Takes `id` from `sender` (an account's phone number): `false` when
    /// it was taken before.
    pub fn first_time(&mut self, sender: &str, id: &str) -> bool {
        let key = (sender.to_owned(), id.to_owned());
        if self.taken.contains(&key) {
            return false;
        }
        if self.order.len() >= REMEMBERED
            && let Some(oldest) = self.order.pop_front()
        {
            self.taken.remove(&oldest);
        }
        self.taken.insert(key.clone());
        self.order.push_back(key);
        true
    }
}

/// Whether a client's `<message>` is a resend answering a retry receipt
/// (an `<enc>` of it, direct or under `<participants>`, has a `count`).
pub fn is_retry_resend(node: &Node) -> bool {
    let retried = |enc: &Node| attr(enc, "count").is_some_and(|count| count != "0");
    node.get_children_by_tag("enc").any(retried)
        || node.get_optional_child("participants").is_some_and(|participants| {
            participants
                .get_children_by_tag("to")
                .filter_map(|to| to.get_optional_child("enc"))
                .any(retried)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_taken_once_per_sender() {
        let mut taken = TakenIds::default();
        assert!(taken.first_time("111", "3EB0A"));
        assert!(!taken.first_time("111", "3EB0A"), "the same sender, the same id");
        assert!(taken.first_time("222", "3EB0A"), "another sender's id is its own");
        assert!(taken.first_time("111", "3EB0B"));
    }

    #[test]
    fn the_oldest_ids_are_forgotten_past_the_bound() {
        let mut taken = TakenIds::default();
        for n in 0..REMEMBERED + 1 {
            assert!(taken.first_time("111", &n.to_string()));
        }
        assert_eq!(taken.order.len(), REMEMBERED);
        assert!(taken.first_time("111", "0"), "the oldest was forgotten");
        assert!(!taken.first_time("111", &REMEMBERED.to_string()));
    }
}
