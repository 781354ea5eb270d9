-- Polls this server sent, and the votes they got, so that a vote (which
-- names options by the SHA-256 of their text, encrypted under the poll's
-- secret) can be read and tallied. Pruned with `sent_messages`, under the
-- journal's retention (`WASAP_JOURNAL_*`); a poll's votes go with it.
CREATE TABLE polls (
    instance_id      TEXT NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
    -- The poll message's id.
    message_id       TEXT NOT NULL,
    -- The chat's JID, as WhatsApp addressed the poll.
    chat             TEXT NOT NULL,
    -- The question.
    name             TEXT NOT NULL,
    -- The options, in order, as a JSON array of strings.
    options          TEXT NOT NULL,
    selectable_count INTEGER NOT NULL,
    -- The poll's message secret (32 bytes), which keys its votes' encryption;
    -- NULL for a poll the simulated engine sent.
    secret           BYTEA,
    sent_at          BIGINT NOT NULL,
    PRIMARY KEY (instance_id, message_id)
);
-- The prune's look-ups by age.
CREATE INDEX polls_age ON polls (instance_id, sent_at);

-- Each voter's latest vote on a poll: the last one wins, and an empty
-- selection is a withdrawn vote (kept, so that an older vote arriving late
-- does not bring it back).
CREATE TABLE poll_votes (
    instance_id  TEXT NOT NULL,
    poll_id      TEXT NOT NULL,
    -- The voter's JID (without device).
    voter        TEXT NOT NULL,
    -- The options picked, by name, as a JSON array of strings.
    selected     TEXT NOT NULL,
    -- When the voter voted, unix milliseconds.
    voted_at     BIGINT NOT NULL,
    PRIMARY KEY (instance_id, poll_id, voter),
    FOREIGN KEY (instance_id, poll_id) REFERENCES polls (instance_id, message_id) ON DELETE CASCADE
);
