-- Finding a message by its id, for the actions that name one (react, edit,
-- revoke, mark read): its chat, its author and whether this account sent it.
--
-- Messages that came in are found in the journal: the id of a journalled
-- message, beside its event, indexed only where there is one. They stay
-- findable for as long as the journal keeps them.
ALTER TABLE inbound_journal ADD COLUMN message_id TEXT;
CREATE INDEX inbound_journal_message ON inbound_journal (instance_id, message_id) WHERE message_id IS NOT NULL;

-- Messages this server sent, written when WhatsApp took them, and pruned
-- with the journal's retention (`WASAP_JOURNAL_*`).
CREATE TABLE sent_messages (
    instance_id  TEXT NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
    message_id   TEXT NOT NULL,
    -- The chat's JID, as WhatsApp addressed the message.
    chat         TEXT NOT NULL,
    -- The content kind (`text`, `image`, `reaction`, ...).
    kind         TEXT NOT NULL,
    sent_at      INTEGER NOT NULL,
    PRIMARY KEY (instance_id, message_id)
);
-- The prune's look-ups by instance and age.
CREATE INDEX sent_messages_age ON sent_messages (instance_id, sent_at);
