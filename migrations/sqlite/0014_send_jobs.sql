-- The durable send queue (docs/API.md, "Send queue"): one row per queued or
-- scheduled send. `request` is the send route's own body (kind and JSON),
-- run when the job is due exactly as the route would run it. A job goes
-- queued -> sending -> sent -> delivered -> read, or ends failed or
-- cancelled. `message_id` is chosen and committed before the send (status
-- `sending`), so a restart resends with the same id or finds it sent.
-- Finished jobs are pruned after the journal's retention.
CREATE TABLE send_jobs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id  TEXT NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
    status       TEXT NOT NULL,
    kind         TEXT NOT NULL,
    request      TEXT NOT NULL,
    -- Unix ms: when the client asked it to go (send_at), and when the
    -- scheduler may send it (send_at or creation, pushed by pacing).
    send_at      INTEGER,
    due_at       INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    sent_at      INTEGER,
    message_id   TEXT,
    failure      TEXT,
    -- A bulk send's batch (issue 21, part 4); NULL for a single send.
    batch_id     TEXT,
    attempts     INTEGER NOT NULL DEFAULT 0
);
-- The scheduler reads the next few due jobs of one instance, never all.
CREATE INDEX send_jobs_due ON send_jobs (instance_id, status, due_at, id);
-- Receipts find their job by message id.
CREATE INDEX send_jobs_message ON send_jobs (instance_id, message_id) WHERE message_id IS NOT NULL;
CREATE INDEX send_jobs_batch ON send_jobs (instance_id, batch_id) WHERE batch_id IS NOT NULL;
-- The prune's look-up of finished jobs by age.
CREATE INDEX send_jobs_age ON send_jobs (updated_at);

-- Per-instance pacing overrides (`PATCH /api/instances/{id}`, `pacing`), as
-- JSON; absent fields take the server's defaults.
CREATE TABLE send_pacing (
    instance_id  TEXT PRIMARY KEY REFERENCES instances (id) ON DELETE CASCADE,
    pacing       TEXT NOT NULL
);
