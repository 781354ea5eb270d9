-- `GET /health` proves the database still takes writes by rewriting this one
-- row (at most every few seconds): a full disk or a stuck lock shows up as
-- `degraded` there, not only as failures elsewhere.
CREATE TABLE health_write_probe (
    id          INTEGER PRIMARY KEY,
    checked_at  BIGINT NOT NULL
);
