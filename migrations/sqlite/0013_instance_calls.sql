-- Per-instance setting: reject every call automatically once its offer is
-- journalled, optionally sending the caller a text (`PATCH /api/instances/{id}`,
-- `reject_calls` and `reject_calls_message`). Off by default.
ALTER TABLE instances ADD COLUMN reject_calls INTEGER NOT NULL DEFAULT 0;
ALTER TABLE instances ADD COLUMN reject_calls_message TEXT;
