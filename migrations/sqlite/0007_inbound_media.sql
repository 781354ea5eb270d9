-- Media of journalled messages not downloaded yet: what the engine needs to
-- fetch the file (for WhatsApp, the media message with its CDN path and
-- keys), written with the journal entry and removed once the download is
-- over, so a download cut short by a restart resumes from here.
CREATE TABLE inbound_media (
    instance_id  TEXT NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
    -- The journal entry's event id.
    event_id     TEXT NOT NULL,
    ticket       BLOB NOT NULL,
    PRIMARY KEY (instance_id, event_id)
);
