-- Done is a per-instance watermark instead of a flag on every entry: the
-- entries of an instance at or below its `done_through` are done (the plugins
-- ran on them and their webhooks are in the outbox), those above it are not.
-- An instance's events are published in journal order and its watermark only
-- moves over a prefix that is handled whole, so one row per instance says what
-- a flag per entry said, and marking a batch done writes that one small row
-- instead of rewriting every entry (each rewrite was a new row version, with
-- its event, in the WAL: BENCHMARKS.md, series G, an eighth time).
CREATE TABLE inbound_journal_progress (
    instance_id   TEXT PRIMARY KEY REFERENCES instances (id) ON DELETE CASCADE,
    done_through  INTEGER NOT NULL
);
-- What the flags said, as a prefix: up to the first entry not done. An entry
-- done after one that was not is handled again after the upgrade (its
-- webhooks are already in the outbox under the same event id: enqueued once).
INSERT INTO inbound_journal_progress (instance_id, done_through)
    SELECT instance_id, COALESCE(MIN(CASE WHEN NOT done THEN seq END) - 1, MAX(seq))
    FROM inbound_journal GROUP BY instance_id;
DROP INDEX inbound_journal_undone;
ALTER TABLE inbound_journal DROP COLUMN done;
