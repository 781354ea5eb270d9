-- The inbound journal: every event that comes in from WhatsApp is written here
-- before WhatsApp gets its ack, marked done once the plugins have run and its
-- webhooks are in the outbox, and kept a while after that so clients can
-- replay what they missed (`GET /api/instances/{id}/events`, `?after=` on
-- the WebSocket routes). `seq` is the clients' cursor: global, only growing,
-- never reused (AUTOINCREMENT, so not even after the newest rows are pruned).
CREATE TABLE inbound_journal (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id  TEXT NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
    event_id     TEXT NOT NULL,
    -- The canonical kind name (`message`, `receipt`, ...).
    kind         TEXT NOT NULL,
    -- The event in its canonical JSON shape.
    event        TEXT NOT NULL,
    done         BOOLEAN NOT NULL DEFAULT FALSE,
    created_at   INTEGER NOT NULL,
    -- An event WhatsApp delivers twice is journalled once.
    UNIQUE (instance_id, event_id)
);
-- One instance's history in order, and the prune's look-ups by instance and age.
CREATE INDEX inbound_journal_instance_seq ON inbound_journal (instance_id, seq);
-- The entries still to be handled (few: the replay at start-up reads them).
CREATE INDEX inbound_journal_undone ON inbound_journal (instance_id, seq) WHERE NOT done;

-- Per instance, the newest seq the retention prune has removed: a cursor
-- below it has lost entries, and gets 410 rather than a silent gap.
CREATE TABLE inbound_journal_horizon (
    instance_id     TEXT PRIMARY KEY REFERENCES instances (id) ON DELETE CASCADE,
    pruned_through  INTEGER NOT NULL
);
