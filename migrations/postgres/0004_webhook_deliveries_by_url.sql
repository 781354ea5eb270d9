-- The delivery worker claims due rows receiver by receiver (so that one
-- receiver's backlog never hides another's): the pending rows of one URL in
-- due order, straight from the index.
CREATE INDEX webhook_deliveries_url_due ON webhook_deliveries (status, url, next_attempt_ms);
