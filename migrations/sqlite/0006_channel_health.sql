-- Per channel: consecutive failures, the breaker (open until), and whether it is disabled
-- (410 Gone, or by hand) until someone re-enables it. A channel without a row is healthy.
CREATE TABLE channel_health (
    name            TEXT PRIMARY KEY,
    failures        INTEGER NOT NULL DEFAULT 0,
    open_until      TEXT,
    disabled_at     TEXT,
    disabled_reason TEXT
);

-- A notice sent to a fallback channel remembers the channel it was meant for, so a broken
-- fallback does not pass it on again.
ALTER TABLE outbox ADD COLUMN rerouted_from TEXT;
