//! Conformance of the inbound journal (`Store::journal_*`): the same behaviour
//! on SQLite and PostgreSQL.

use wasap::events::{Event, EventKind};
use wasap::store::StoreError;
use wasap::store::journal::{Appended, JournalRetention};

use crate::fixtures::{fresh, instance, receipt as event};

fn events(instance: &str, prefix: &str, count: usize) -> Vec<Event> {
    (0..count).map(|i| event(instance, &format!("{prefix}{i}"))).collect()
}

fn new_seqs(appended: &[Appended]) -> Vec<i64> {
    appended
        .iter()
        .map(|a| match a {
            Appended::New(seq) => *seq,
            other => panic!("expected a new entry, got {other:?}"),
        })
        .collect()
}

fn ids(entries: &[wasap::store::journal::JournalEntry]) -> Vec<&str> {
    entries.iter().map(|e| e.event.id.as_str()).collect()
}

#[tokio::test]
async fn appended_events_take_growing_seqs_in_order_and_read_back_whole() {
    let (_db, store) = fresh().await;
    instance(&store, "shop", "online").await;
    // More than one multi-row INSERT's worth, so chunks keep the order too.
    let batch = events("shop", "e", 450);
    let seqs = new_seqs(&store.journal_append(&batch).await.unwrap());
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "seqs grow in order: {seqs:?}");
    let page = store.journal_page("shop", 0, 1000).await.unwrap();
    assert_eq!(page.len(), 450);
    for ((entry, seq), event) in page.iter().zip(&seqs).zip(&batch) {
        assert_eq!(entry.seq, *seq);
        assert_eq!(&entry.event, event, "the event comes back as it went in");
        assert!(!entry.done);
    }
    // Paging: after a cursor, at most the limit.
    let second = store.journal_page("shop", seqs[99], 10).await.unwrap();
    assert_eq!(second.iter().map(|e| e.seq).collect::<Vec<_>>(), seqs[100..110]);
}

#[tokio::test]
async fn an_event_delivered_again_is_journalled_once() {
    let (_db, store) = fresh().await;
    instance(&store, "shop", "online").await;
    let first = new_seqs(&store.journal_append(&events("shop", "e", 2)).await.unwrap());
    done_through(&store, "shop", first[0]).await;
    // e0 again (done), e1 again (not done), a new one, and the new one twice in one batch.
    let again = store
        .journal_append(&[
            event("shop", "e0"),
            event("shop", "e1"),
            event("shop", "n"),
            event("shop", "n"),
        ])
        .await
        .unwrap();
    let Appended::New(n) = again[2] else {
        panic!("n is new: {again:?}")
    };
    assert_eq!(
        again,
        [
            Appended::Duplicate {
                seq: first[0],
                done: true
            },
            Appended::Duplicate {
                seq: first[1],
                done: false
            },
            Appended::New(n),
            Appended::Duplicate { seq: n, done: false },
        ]
    );
    assert!(n > first[1]);
    assert_eq!(
        ids(&store.journal_page("shop", 0, 100).await.unwrap()),
        ["e0", "e1", "n"]
    );
    // The same id on another instance is another event.
    instance(&store, "other", "online").await;
    assert!(matches!(
        store.journal_append(&[event("other", "e0")]).await.unwrap()[..],
        [Appended::New(_)]
    ));
}

#[tokio::test]
async fn pending_lists_only_the_entries_not_done_in_order() {
    let (_db, store) = fresh().await;
    instance(&store, "shop", "online").await;
    instance(&store, "other", "online").await;
    let seqs = new_seqs(&store.journal_append(&events("shop", "e", 6)).await.unwrap());
    store.journal_append(&events("other", "o", 3)).await.unwrap();
    assert_eq!(
        ids(&store.journal_pending("shop", 0, 100).await.unwrap()).len(),
        6,
        "nothing done yet"
    );
    done_through(&store, "shop", seqs[2]).await;
    // A watermark only moves up.
    done_through(&store, "shop", seqs[1]).await;
    let pending = store.journal_pending("shop", 0, 100).await.unwrap();
    assert_eq!(ids(&pending), ["e3", "e4", "e5"]);
    assert!(pending.iter().all(|e| !e.done));
    assert_eq!(ids(&store.journal_pending("shop", seqs[3], 1).await.unwrap()), ["e4"]);
    assert_eq!(
        ids(&store.journal_pending("other", 0, 100).await.unwrap()),
        ["o0", "o1", "o2"]
    );
    // The history has them all, done or not.
    let page = store.journal_page("shop", 0, 100).await.unwrap();
    assert_eq!(
        page.iter().map(|e| e.done).collect::<Vec<_>>(),
        [true, true, true, false, false, false]
    );
    // Several instances in one write; one that does not exist is left out.
    store
        .journal_mark_done_through(&[
            ("shop".to_owned(), seqs[3]),
            ("gone".to_owned(), seqs[5]),
            ("shop".to_owned(), seqs[4]),
        ])
        .await
        .unwrap();
    assert_eq!(ids(&store.journal_pending("shop", 0, 100).await.unwrap()), ["e5"]);
    // Every instance's, in seq order.
    let all = store.journal_read(None, 0, 100).await.unwrap();
    assert_eq!(all.entries.len(), 9);
    assert_eq!(all.rows_read, 9);
    assert!(all.entries.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(all.last_seq, all.entries.last().map(|e| e.seq));
}

#[tokio::test]
async fn an_event_of_an_unknown_instance_is_refused_and_nothing_of_its_batch_is_kept() {
    let (_db, store) = fresh().await;
    instance(&store, "shop", "online").await;
    let batch = [event("shop", "a"), event("gone", "b")];
    let refused = store.journal_append(&batch).await;
    assert!(matches!(refused, Err(StoreError::InstanceGone)), "{refused:?}");
    assert!(store.journal_page("shop", 0, 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn deleting_an_instance_deletes_its_journal() {
    let (_db, store) = fresh().await;
    instance(&store, "shop", "online").await;
    instance(&store, "other", "online").await;
    let seqs = new_seqs(&store.journal_append(&events("shop", "e", 4)).await.unwrap());
    store.journal_append(&events("other", "o", 1)).await.unwrap();
    done_through(&store, "shop", seqs[3]).await;
    let keep_one = JournalRetention {
        before: 0,
        max_per_instance: 1,
    };
    store.journal_prune(keep_one, 100).await.unwrap();
    assert_eq!(store.journal_horizon(Some("shop")).await.unwrap(), seqs[2]);
    assert!(store.delete_instance("shop").await.unwrap());
    assert!(store.journal_page("shop", 0, 10).await.unwrap().is_empty());
    assert_eq!(store.journal_horizon(Some("shop")).await.unwrap(), 0);
    assert_eq!(ids(&store.journal_page("other", 0, 10).await.unwrap()), ["o0"]);
}

#[tokio::test]
async fn the_prune_keeps_the_newest_and_every_entry_not_done_and_records_its_horizon() {
    let (_db, store) = fresh().await;
    instance(&store, "shop", "online").await;
    instance(&store, "other", "online").await;
    let seqs = new_seqs(&store.journal_append(&events("shop", "e", 10)).await.unwrap());
    let others = new_seqs(&store.journal_append(&events("other", "o", 3)).await.unwrap());
    done_through(&store, "other", others[2]).await;
    // e0..e5 done, e6 and after not.
    done_through(&store, "shop", seqs[5]).await;
    assert_eq!(store.journal_horizon(Some("shop")).await.unwrap(), 0);

    // Young entries, and a count not reached: nothing goes.
    let young = JournalRetention {
        before: 0,
        max_per_instance: 100,
    };
    assert_eq!(store.journal_prune(young, 100).await.unwrap(), 0);

    // Keep 2 per instance: shop's e0..e5 go (e6 is not done, so it and all after it stay),
    // in statements of 2.
    let keep_two = JournalRetention {
        before: 0,
        max_per_instance: 2,
    };
    let removed = store.journal_prune(keep_two, 2).await.unwrap();
    assert_eq!(removed, 6 + 1, "shop's e0..e5, and other's o0");
    assert_eq!(
        ids(&store.journal_page("shop", 0, 100).await.unwrap()),
        ["e6", "e7", "e8", "e9"]
    );
    assert_eq!(store.journal_horizon(Some("shop")).await.unwrap(), seqs[5]);
    assert_eq!(store.journal_horizon(Some("other")).await.unwrap(), others[0]);
    assert_eq!(store.journal_horizon(None).await.unwrap(), seqs[5].max(others[0]));
    assert_eq!(
        store.journal_prune(keep_two, 100).await.unwrap(),
        0,
        "e6 holds the rest back"
    );

    // Once e6..e9 are done, age lets everything go up to now.
    done_through(&store, "shop", seqs[9]).await;
    let all_old = JournalRetention {
        before: wasap::clock::now_secs() + 1,
        max_per_instance: 100,
    };
    assert_eq!(store.journal_prune(all_old, 100).await.unwrap(), 4 + 2);
    assert_eq!(store.journal_horizon(Some("shop")).await.unwrap(), seqs[9]);
    assert!(store.journal_page("shop", 0, 100).await.unwrap().is_empty());

    // Seqs are never reused, not even those of the newest pruned rows.
    let next = new_seqs(&store.journal_append(&events("shop", "f", 1)).await.unwrap());
    assert!(next[0] > seqs[9], "{next:?} after {seqs:?}");
}

#[tokio::test]
async fn an_entry_learns_what_came_after_it_was_written() {
    let (_db, store) = fresh().await;
    instance(&store, "shop", "online").await;
    let written = events("shop", "e", 2);
    let seqs = new_seqs(&store.journal_append(&written).await.unwrap());
    let mut later = written[1].clone();
    later.kind = EventKind::System {
        message: "completed".to_owned(),
    };
    assert!(store.journal_replace_event(seqs[1], &later).await.unwrap());
    // Only the entry of the same instance and id.
    assert!(!store.journal_replace_event(seqs[0], &later).await.unwrap());
    let page = store.journal_page("shop", 0, 10).await.unwrap();
    assert_eq!(page[1].event, later);
    assert_eq!(page[0].event, written[0]);
}

/// Marks `instance`'s entries done through `seq`.
async fn done_through(store: &wasap::store::Store, instance: &str, seq: i64) {
    store
        .journal_mark_done_through(&[(instance.to_owned(), seq)])
        .await
        .unwrap();
}

#[tokio::test]
async fn a_held_connection_journals_as_the_pool_does_and_few_are_held_at_once() {
    let (_db, store) = fresh().await;
    instance(&store, "shop", "online").await;
    // A quarter of the pool may be held: on either engine at least one, and
    // never every connection.
    let mut held = Vec::new();
    while let Some(connection) = store.hold_connection().await.unwrap() {
        held.push(connection);
        assert!(held.len() <= 16, "no more may be held than the pool has");
    }
    assert!(!held.is_empty(), "one connection at least may be held");
    // The pool still lends to everyone else meanwhile.
    let borrowed = new_seqs(&store.journal_append(&events("shop", "p", 3)).await.unwrap());
    // Writes on a held connection, one after the other, keep their order
    // and answer as the pool's do, duplicates included.
    let mut connection = held.pop().unwrap();
    let first = new_seqs(
        &store
            .journal_append_on(&mut connection, &events("shop", "h", 250))
            .await
            .unwrap(),
    );
    let again = store
        .journal_append_on(&mut connection, &[event("shop", "h0"), event("shop", "n")])
        .await
        .unwrap();
    assert!(matches!(again[0], Appended::Duplicate { seq, done: false } if seq == first[0]));
    let Appended::New(last) = again[1] else {
        panic!("expected a new entry, got {:?}", again[1])
    };
    let seqs: Vec<i64> = borrowed.iter().chain(&first).chain([&last]).copied().collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "seqs grow in order: {seqs:?}");
    assert_eq!(store.journal_page("shop", 0, 1000).await.unwrap().len(), 254);
    // Given back, it may be held again; an instance that is gone fails on
    // a held connection as it does in the pool.
    drop(connection);
    let mut connection = store
        .hold_connection()
        .await
        .unwrap()
        .expect("a connection given back may be held again");
    let gone = store
        .journal_append_on(&mut connection, &events("nobody", "x", 1))
        .await;
    assert!(matches!(gone, Err(StoreError::InstanceGone)), "{gone:?}");
}
