-- wasap schema, SQLite flavour. Keep in step with ../postgres/0001_initial.sql:
-- same tables, same columns, same meaning; only the types are spelled for SQLite.
-- Times are unix seconds unless the column name ends in _ms.

-- ---------------------------------------------------------------------------
-- Application tables
-- ---------------------------------------------------------------------------

-- One row per WhatsApp number ("instance") the server manages.
CREATE TABLE instances (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    -- SHA-256 of the instance token, hex; the token itself is never stored.
    token_hash    TEXT NOT NULL,
    -- qr_required | pairing | connecting | online | disconnected | logged_out
    status        TEXT NOT NULL,
    -- The whatsapp-rust device (wa_devices.id) this instance is linked as, if any.
    device_id     INTEGER,
    jid           TEXT,
    phone_number  TEXT,
    push_name     TEXT,
    created_at    INTEGER NOT NULL,
    connected_at  INTEGER,
    last_seen     INTEGER
);
CREATE INDEX instances_phone_number ON instances (phone_number);

-- Webhook receivers. instance_id NULL means the webhook applies to every instance.
CREATE TABLE webhooks (
    id           TEXT PRIMARY KEY,
    instance_id  TEXT REFERENCES instances (id) ON DELETE CASCADE,
    url          TEXT NOT NULL,
    -- HMAC key; kept in clear because every delivery is signed with it.
    secret       TEXT NOT NULL,
    -- sudevwa | gowa
    format       TEXT NOT NULL,
    -- JSON array of event kinds; an empty array means every kind.
    events       TEXT NOT NULL DEFAULT '[]',
    enabled      BOOLEAN NOT NULL DEFAULT TRUE,
    -- The instance's webhook-setconfig webhook (at most one per instance).
    is_primary   BOOLEAN NOT NULL DEFAULT FALSE,
    created_at   INTEGER NOT NULL
);
CREATE INDEX webhooks_instance ON webhooks (instance_id);

-- The durable webhook outbox: a row is written when an event is accepted and
-- lives until it is delivered (or, after the last attempt, stays `failed`).
CREATE TABLE webhook_deliveries (
    id               TEXT PRIMARY KEY,
    -- Not a foreign key: global webhooks come from configuration, not from `webhooks`.
    webhook_id       TEXT NOT NULL,
    instance_id      TEXT,
    event_id         TEXT NOT NULL,
    event_kind       TEXT NOT NULL,
    url              TEXT NOT NULL,
    format           TEXT NOT NULL,
    payload          BLOB NOT NULL,
    -- pending | delivered | failed
    status           TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT,
    next_attempt_ms  INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    -- Enqueueing the same event for the same receiver twice is a no-op.
    UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_ms);
CREATE INDEX webhook_deliveries_instance ON webhook_deliveries (instance_id, status);

-- The plugins' key-value store, one namespace per plugin.
CREATE TABLE plugin_kv (
    plugin      TEXT NOT NULL,
    key         TEXT NOT NULL,
    value       BLOB NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (plugin, key)
);

-- ---------------------------------------------------------------------------
-- whatsapp-rust device store: every table is keyed by device_id, so many
-- linked devices share one database without seeing each other's rows.
-- ---------------------------------------------------------------------------

-- Hands out device ids; AUTOINCREMENT so an id is never reused after a wipe.
CREATE TABLE wa_device_ids (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    allocated_at  INTEGER NOT NULL
);

-- The device's own keys and settings (wacore `Device`, serialised as JSON).
CREATE TABLE wa_devices (
    id          INTEGER PRIMARY KEY,
    data        TEXT NOT NULL,
    pn          TEXT,
    lid         TEXT,
    push_name   TEXT NOT NULL DEFAULT '',
    updated_at  INTEGER NOT NULL
);

CREATE TABLE wa_identities (
    device_id  INTEGER NOT NULL,
    address    TEXT NOT NULL,
    key        BLOB NOT NULL,
    PRIMARY KEY (device_id, address)
);

CREATE TABLE wa_sessions (
    device_id  INTEGER NOT NULL,
    address    TEXT NOT NULL,
    record     BLOB NOT NULL,
    PRIMARY KEY (device_id, address)
);

CREATE TABLE wa_prekeys (
    device_id  INTEGER NOT NULL,
    id         INTEGER NOT NULL,
    record     BLOB NOT NULL,
    uploaded   BOOLEAN NOT NULL,
    PRIMARY KEY (device_id, id)
);

CREATE TABLE wa_signed_prekeys (
    device_id  INTEGER NOT NULL,
    id         INTEGER NOT NULL,
    record     BLOB NOT NULL,
    PRIMARY KEY (device_id, id)
);

CREATE TABLE wa_sender_keys (
    device_id  INTEGER NOT NULL,
    address    TEXT NOT NULL,
    record     BLOB NOT NULL,
    PRIMARY KEY (device_id, address)
);

CREATE TABLE wa_app_state_keys (
    device_id  INTEGER NOT NULL,
    key_id     BLOB NOT NULL,
    -- JSON of wacore's AppStateSyncKey.
    key_data   TEXT NOT NULL,
    -- Order of storing, per device: the latest stored key is the current one.
    seq        INTEGER NOT NULL,
    PRIMARY KEY (device_id, key_id)
);

CREATE TABLE wa_app_state_versions (
    device_id   INTEGER NOT NULL,
    name        TEXT NOT NULL,
    -- JSON of wacore's HashState.
    state_data  TEXT NOT NULL,
    PRIMARY KEY (device_id, name)
);

CREATE TABLE wa_app_state_mutation_macs (
    device_id  INTEGER NOT NULL,
    name       TEXT NOT NULL,
    index_mac  BLOB NOT NULL,
    version    INTEGER NOT NULL,
    value_mac  BLOB NOT NULL,
    PRIMARY KEY (device_id, name, index_mac)
);

CREATE TABLE wa_sender_key_devices (
    device_id   INTEGER NOT NULL,
    group_jid   TEXT NOT NULL,
    device_jid  TEXT NOT NULL,
    has_key     BOOLEAN NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (device_id, group_jid, device_jid)
);
CREATE INDEX wa_sender_key_devices_jid ON wa_sender_key_devices (device_id, device_jid);

CREATE TABLE wa_lid_pn_mappings (
    device_id        INTEGER NOT NULL,
    lid              TEXT NOT NULL,
    phone_number     TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    learning_source  TEXT NOT NULL,
    PRIMARY KEY (device_id, lid)
);
CREATE INDEX wa_lid_pn_mappings_pn ON wa_lid_pn_mappings (device_id, phone_number, updated_at);

CREATE TABLE wa_base_keys (
    device_id   INTEGER NOT NULL,
    address     TEXT NOT NULL,
    message_id  TEXT NOT NULL,
    base_key    BLOB NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (device_id, address, message_id)
);

CREATE TABLE wa_device_lists (
    device_id  INTEGER NOT NULL,
    user_id    TEXT NOT NULL,
    -- JSON of wacore's DeviceListRecord.
    record     TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (device_id, user_id)
);

CREATE TABLE wa_group_metadata (
    device_id   INTEGER NOT NULL,
    group_jid   TEXT NOT NULL,
    info        BLOB NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (device_id, group_jid)
);

CREATE TABLE wa_tc_tokens (
    device_id         INTEGER NOT NULL,
    jid               TEXT NOT NULL,
    token             BLOB NOT NULL,
    token_timestamp   INTEGER NOT NULL,
    sender_timestamp  INTEGER,
    updated_at        INTEGER NOT NULL,
    PRIMARY KEY (device_id, jid)
);

CREATE TABLE wa_sent_messages (
    device_id   INTEGER NOT NULL,
    chat_jid    TEXT NOT NULL,
    message_id  TEXT NOT NULL,
    payload     BLOB NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (device_id, chat_jid, message_id)
);
CREATE INDEX wa_sent_messages_age ON wa_sent_messages (device_id, created_at);

CREATE TABLE wa_pending_inbound (
    device_id    INTEGER NOT NULL,
    chat         TEXT NOT NULL,
    sender       TEXT NOT NULL,
    id           TEXT NOT NULL,
    message      BLOB NOT NULL,
    inserted_at  INTEGER NOT NULL,
    PRIMARY KEY (device_id, chat, sender, id)
);

CREATE TABLE wa_msg_secrets (
    device_id   INTEGER NOT NULL,
    chat        TEXT NOT NULL,
    sender      TEXT NOT NULL,
    msg_id      TEXT NOT NULL,
    secret      BLOB NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    message_ts  INTEGER NOT NULL,
    PRIMARY KEY (device_id, chat, sender, msg_id)
);
CREATE INDEX wa_msg_secrets_expiry ON wa_msg_secrets (device_id, expires_at);
