-- The contacts an instance knows: every sender of its inbound messages, with
-- the push name it last carried, and the names WhatsApp's contact sync gives
-- (the real engine). At most 100,000 per instance (`store/contacts.rs`);
-- deleted with the instance.
CREATE TABLE contacts (
    instance_id TEXT NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
    -- The contact's JID without device: `<phone>@s.whatsapp.net` or `<lid>@lid`.
    jid         TEXT NOT NULL,
    -- The phone number (digits), when known.
    phone       TEXT,
    -- The LID JID (`…@lid`), when known.
    lid         TEXT,
    -- The display name the contact's messages carried last.
    push_name   TEXT,
    -- The name from the phone's address book (contact sync).
    name        TEXT,
    -- Unix seconds.
    first_seen  INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL,
    PRIMARY KEY (instance_id, jid)
);
