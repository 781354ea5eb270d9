-- A delivery is sent exactly as the plugin asked: its content type and extra
-- headers are kept with the body, so a retry after a restart sends the same
-- request.
ALTER TABLE webhook_deliveries ADD COLUMN content_type TEXT NOT NULL DEFAULT 'application/json';
-- JSON array of [name, value] pairs.
ALTER TABLE webhook_deliveries ADD COLUMN headers TEXT NOT NULL DEFAULT '[]';
-- The listing is newest first.
CREATE INDEX webhook_deliveries_created ON webhook_deliveries (created_at);
