-- What a message this server sent said, so it can be forwarded by its id:
-- a small JSON document (text, location or contact cards; see
-- `store/sent_content.rs`), capped in size. NULL for kinds that cannot be
-- forwarded and for messages sent before this column existed.
ALTER TABLE sent_messages ADD COLUMN content TEXT;
