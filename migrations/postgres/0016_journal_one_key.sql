-- The journal's two look-ups by a random key (an event by its id, for the
-- deduplication of what WhatsApp delivers again; a message by its WhatsApp id,
-- for the actions that name one) share one index: (instance_id, message_id,
-- event_id). Every appended entry lands on a random leaf of each such index,
-- and each leaf a checkpoint interval touches is written whole to the WAL
-- again: one such index instead of two is half that work (BENCHMARKS.md,
-- series G). An event id is a digest of the event that includes its message
-- id, so the new key is unique where the old one was. Entries that are not
-- messages keep '' as their message id.
UPDATE inbound_journal SET message_id = '' WHERE message_id IS NULL;
ALTER TABLE inbound_journal ALTER COLUMN message_id SET DEFAULT '';
ALTER TABLE inbound_journal ALTER COLUMN message_id SET NOT NULL;
ALTER TABLE inbound_journal ADD CONSTRAINT inbound_journal_key UNIQUE (instance_id, message_id, event_id);
ALTER TABLE inbound_journal DROP CONSTRAINT inbound_journal_instance_id_event_id_key;
DROP INDEX inbound_journal_message;
