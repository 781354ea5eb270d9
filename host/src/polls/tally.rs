//! Counting a poll's votes, and naming the options a vote picks: pure
//! functions, the same for both engines (only the decrypting of a vote
//! differs between them).

use sha2::{Digest, Sha256};

use crate::events::PollTotal;
use crate::store::polls::StoredVote;

/// The hash WhatsApp names an option by in a vote: SHA-256 of its text.
pub fn option_hash(option: &str) -> [u8; 32] {
    Sha256::digest(option.as_bytes()).into()
}

/// The options of `options` whose hash is among `hashes`, in the poll's
/// order; a hash that names no option (a vote on an option that does not
/// exist) is left out.
pub fn options_of_hashes(options: &[String], hashes: &[Vec<u8>]) -> Vec<String> {
    options
        .iter()
        .filter(|option| {
            let hash = option_hash(option);
            hashes.iter().any(|h| h.as_slice() == hash)
        })
        .cloned()
        .collect()
}

/// The options of `options` that `picked` names, in the poll's order, each
/// once; names that are not options are left out.
pub fn in_poll_order(options: &[String], picked: &[String]) -> Vec<String> {
    options
        .iter()
        .filter(|option| picked.contains(option))
        .cloned()
        .collect()
}

/// Every option of the poll with the number of voters whose latest vote
/// picks it. `votes` holds one latest vote per voter (a withdrawn vote has
/// no options); an option named twice in one vote counts once.
pub fn totals(options: &[String], votes: &[StoredVote]) -> Vec<PollTotal> {
    options
        .iter()
        .map(|option| PollTotal {
            option: option.clone(),
            votes: votes
                .iter()
                .filter(|vote| vote.selected.contains(option))
                .count()
                .try_into()
                .unwrap_or(u32::MAX),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> Vec<String> {
        ["Red", "Green", "Blue"].map(str::to_owned).to_vec()
    }

    fn vote(voter: &str, selected: &[&str]) -> StoredVote {
        StoredVote {
            voter: voter.to_owned(),
            selected: selected.iter().map(|s| (*s).to_owned()).collect(),
            voted_at: 0,
        }
    }

    fn counts(totals: &[PollTotal]) -> Vec<(&str, u32)> {
        totals.iter().map(|t| (t.option.as_str(), t.votes)).collect()
    }

    #[test]
    fn each_voter_counts_once_per_option_they_pick() {
        let votes = [
            vote("a", &["Red"]),
            vote("b", &["Red", "Blue"]),
            vote("c", &["Blue", "Blue"]),
        ];
        assert_eq!(
            counts(&totals(&options(), &votes)),
            [("Red", 2), ("Green", 0), ("Blue", 2)]
        );
    }

    #[test]
    fn a_withdrawn_vote_and_unknown_names_count_for_nothing() {
        let votes = [vote("a", &[]), vote("b", &["Purple"])];
        assert_eq!(
            counts(&totals(&options(), &votes)),
            [("Red", 0), ("Green", 0), ("Blue", 0)]
        );
        assert!(counts(&totals(&[], &votes)).is_empty());
    }

    #[test]
    fn hashes_name_options_in_the_polls_order() {
        let hashes = vec![
            option_hash("Blue").to_vec(),
            option_hash("Red").to_vec(),
            option_hash("Purple").to_vec(),
            vec![1, 2, 3],
        ];
        assert_eq!(options_of_hashes(&options(), &hashes), ["Red", "Blue"]);
        assert!(options_of_hashes(&options(), &[]).is_empty());
        // WhatsApp's hash is SHA-256 of the option's UTF-8 text (FIPS 180-2's "abc" vector).
        assert_eq!(
            hex::encode(option_hash("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn picked_names_follow_the_polls_order_once_each() {
        let picked = ["Blue", "Red", "Blue", "Purple"].map(str::to_owned);
        assert_eq!(in_poll_order(&options(), &picked), ["Red", "Blue"]);
    }
}
