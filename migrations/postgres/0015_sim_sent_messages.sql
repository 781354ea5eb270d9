-- The simulated network's record of what WhatsApp took from each instance
-- (`--engine sim`, `GET /sim/instances/{id}/sent`), kept across restarts of
-- the server as WhatsApp keeps it across restarts of a client: a message
-- sent again with an id it already took (the send queue, after a crash) is
-- taken once. `record` is the route's JSON of one message. The newest rows
-- per instance are kept (the engine prunes the rest); deleting an instance
-- deletes its rows. Unused on the real engine.
CREATE TABLE sim_sent_messages (
    id           BIGSERIAL PRIMARY KEY,
    instance_id  TEXT NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
    message_id   TEXT NOT NULL,
    record       TEXT NOT NULL
);
CREATE INDEX sim_sent_messages_instance ON sim_sent_messages (instance_id, id);
