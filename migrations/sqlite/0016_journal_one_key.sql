-- The journal's two look-ups by a random key (an event by its id, for the
-- deduplication of what WhatsApp delivers again; a message by its WhatsApp id,
-- for the actions that name one) share one index: (instance_id, message_id,
-- event_id). Every appended entry lands on a random leaf of each such index,
-- and each leaf a commit touches is written whole to the WAL and again at the
-- checkpoint: one such index instead of two is half that work
-- (BENCHMARKS.md, series G). An event id is a digest of the event that
-- includes its message id, so the new key is unique where the old one was.
-- Entries that are not messages keep '' as their message id.
--
-- SQLite cannot drop the index of a UNIQUE constraint, so the table is built
-- again, with its rows, seqs and AUTOINCREMENT counter as they were.
CREATE TABLE inbound_journal_rebuilt (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id  TEXT NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
    event_id     TEXT NOT NULL,
    kind         TEXT NOT NULL,
    event        TEXT NOT NULL,
    done         BOOLEAN NOT NULL DEFAULT FALSE,
    created_at   INTEGER NOT NULL,
    message_id   TEXT NOT NULL DEFAULT '',
    UNIQUE (instance_id, message_id, event_id)
);
INSERT INTO inbound_journal_rebuilt (seq, instance_id, event_id, kind, event, done, created_at, message_id)
    SELECT seq, instance_id, event_id, kind, event, done, created_at, COALESCE(message_id, '')
    FROM inbound_journal ORDER BY seq;
-- The counter may be past the newest row (the prune removed newer ones): a
-- seq is never given twice, so the new table's counter starts where the old
-- one was.
UPDATE sqlite_sequence SET seq = (SELECT seq FROM sqlite_sequence WHERE name = 'inbound_journal')
    WHERE name = 'inbound_journal_rebuilt'
    AND seq < (SELECT seq FROM sqlite_sequence WHERE name = 'inbound_journal');
INSERT INTO sqlite_sequence (name, seq)
    SELECT 'inbound_journal_rebuilt', seq FROM sqlite_sequence WHERE name = 'inbound_journal'
    AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'inbound_journal_rebuilt');
DROP TABLE inbound_journal;
ALTER TABLE inbound_journal_rebuilt RENAME TO inbound_journal;
CREATE INDEX inbound_journal_instance_seq ON inbound_journal (instance_id, seq);
CREATE INDEX inbound_journal_undone ON inbound_journal (instance_id, seq) WHERE NOT done;
