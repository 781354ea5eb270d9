-- Per-instance setting: mark every incoming message read once it is
-- journalled (`PATCH /api/instances/{id}`, `auto_read`). Off by default.
ALTER TABLE instances ADD COLUMN auto_read INTEGER NOT NULL DEFAULT 0;
