//! Conformance of the poll store (`Store::record_poll`, `find_poll`,
//! `record_poll_vote`, `polls_prune`): the same on SQLite and PostgreSQL,
//! with the tally the engines build on it.

use wasap::polls::tally;
use wasap::store::polls::{StoredPoll, StoredVote};

use crate::fixtures::{fresh, instance};

fn poll(id: &str, sent_at: i64) -> StoredPoll {
    StoredPoll {
        message_id: id.to_owned(),
        chat: "6281234567890@s.whatsapp.net".to_owned(),
        name: "Lunch?".to_owned(),
        options: vec!["Rice".to_owned(), "Noodles".to_owned()],
        selectable_count: 1,
        secret: Some(vec![9; 32]),
        sent_at,
    }
}

fn vote(voter: &str, selected: &[&str], voted_at: i64) -> StoredVote {
    StoredVote {
        voter: voter.to_owned(),
        selected: selected.iter().map(|s| (*s).to_owned()).collect(),
        voted_at,
    }
}

fn counts(options: &[String], votes: &[StoredVote]) -> Vec<u32> {
    tally::totals(options, votes).iter().map(|t| t.votes).collect()
}

#[tokio::test]
async fn the_latest_vote_per_voter_counts_and_a_late_older_one_does_not() {
    let (_db, store) = fresh().await;
    instance(&store, "shop", "online").await;
    let lunch = poll("3EB0POLL", 1_700_000_000);
    store.record_poll("shop", &lunch).await.unwrap();
    // A second record of the same id changes nothing.
    store
        .record_poll(
            "shop",
            &StoredPoll {
                name: "Other".to_owned(),
                ..poll("3EB0POLL", 1)
            },
        )
        .await
        .unwrap();
    assert_eq!(store.find_poll("shop", "3EB0POLL").await.unwrap(), Some(lunch.clone()));
    assert_eq!(store.find_poll("other", "3EB0POLL").await.unwrap(), None);

    let ani = "ani@s.whatsapp.net";
    let budi = "budi@s.whatsapp.net";
    let votes = store
        .record_poll_vote("shop", "3EB0POLL", &vote(ani, &["Rice"], 10))
        .await
        .unwrap();
    assert_eq!(counts(&lunch.options, &votes), [1, 0]);
    let votes = store
        .record_poll_vote("shop", "3EB0POLL", &vote(budi, &["Rice"], 11))
        .await
        .unwrap();
    assert_eq!(counts(&lunch.options, &votes), [2, 0]);
    let votes = store
        .record_poll_vote("shop", "3EB0POLL", &vote(ani, &["Noodles"], 12))
        .await
        .unwrap();
    assert_eq!(counts(&lunch.options, &votes), [1, 1]);
    // Ani's first vote delivered again, late: her newer one stands.
    let votes = store
        .record_poll_vote("shop", "3EB0POLL", &vote(ani, &["Rice"], 10))
        .await
        .unwrap();
    assert_eq!(counts(&lunch.options, &votes), [1, 1]);
    // Budi withdraws.
    let votes = store
        .record_poll_vote("shop", "3EB0POLL", &vote(budi, &[], 13))
        .await
        .unwrap();
    assert_eq!(counts(&lunch.options, &votes), [0, 1]);
    assert_eq!(
        votes.len(),
        2,
        "a withdrawn vote is kept, so an older one cannot come back"
    );

    // No poll, no tally.
    let votes = store
        .record_poll_vote("shop", "3EB0NONE", &vote(ani, &["Rice"], 14))
        .await
        .unwrap();
    assert!(votes.is_empty());
}

#[tokio::test]
async fn polls_are_pruned_by_age_and_count_with_their_votes() {
    let (_db, store) = fresh().await;
    instance(&store, "shop", "online").await;
    for (i, at) in [(1, 100), (2, 200), (3, 300), (4, 400)] {
        let id = format!("3EB0P{i}");
        store.record_poll("shop", &poll(&id, at)).await.unwrap();
        store
            .record_poll_vote("shop", &id, &vote("ani@s.whatsapp.net", &["Rice"], at))
            .await
            .unwrap();
    }
    // Older than 150, then beyond the newest 2.
    assert_eq!(store.polls_prune(150, 2).await.unwrap(), 2);
    assert_eq!(store.find_poll("shop", "3EB0P1").await.unwrap(), None);
    assert_eq!(store.find_poll("shop", "3EB0P2").await.unwrap(), None);
    assert!(store.find_poll("shop", "3EB0P3").await.unwrap().is_some());
    // The pruned polls' votes went with them: a vote on one is not kept.
    let votes = store
        .record_poll_vote("shop", "3EB0P2", &vote("budi@s.whatsapp.net", &["Rice"], 500))
        .await
        .unwrap();
    assert!(votes.is_empty());
    let votes = store
        .record_poll_vote("shop", "3EB0P4", &vote("budi@s.whatsapp.net", &["Noodles"], 500))
        .await
        .unwrap();
    assert_eq!(votes.len(), 2);
}
