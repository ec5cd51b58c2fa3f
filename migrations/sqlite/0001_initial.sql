-- Key/value settings the daemon creates for itself (e.g. the key that signs acknowledge links).
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
);

-- Poll state and health per configured feed.
CREATE TABLE feeds (
    name                 TEXT PRIMARY KEY,
    url                  TEXT NOT NULL,
    etag                 TEXT,
    last_modified        TEXT,
    last_success_at      TEXT,
    last_error           TEXT,
    last_error_at        TEXT,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    next_poll_at         TEXT,
    items_seen           INTEGER NOT NULL DEFAULT 0
);

-- Every item seen, once: (feed, guid) is the identity a re-fetch or restart cannot repeat.
CREATE TABLE mentions (
    id           INTEGER PRIMARY KEY,
    feed         TEXT NOT NULL,
    guid         TEXT NOT NULL,
    title        TEXT NOT NULL,
    body         TEXT NOT NULL,
    author       TEXT,
    url          TEXT,
    published_at TEXT,
    fetched_at   TEXT NOT NULL,
    lang         TEXT,
    risk         INTEGER NOT NULL,
    breakdown    TEXT NOT NULL,
    UNIQUE (feed, guid)
);
CREATE INDEX mentions_fetched_at ON mentions (fetched_at);

CREATE TABLE rule_matches (
    mention_id INTEGER NOT NULL REFERENCES mentions (id),
    rule       TEXT NOT NULL,
    severity   INTEGER NOT NULL,
    terms      TEXT NOT NULL,
    PRIMARY KEY (mention_id, rule)
);
CREATE INDEX rule_matches_rule ON rule_matches (rule);

CREATE TABLE incidents (
    id                 INTEGER PRIMARY KEY,
    group_key          TEXT NOT NULL,
    rule               TEXT NOT NULL,
    title              TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('open', 'acknowledged', 'resolved')),
    level              TEXT NOT NULL CHECK (level IN ('low', 'medium', 'high', 'critical')),
    score              INTEGER NOT NULL,
    why                TEXT NOT NULL,
    opened_at          TEXT NOT NULL,
    acknowledged_at    TEXT,
    resolved_at        TEXT,
    first_mention_at   TEXT NOT NULL,
    policy             TEXT NOT NULL,
    escalation_step    INTEGER NOT NULL DEFAULT 0,
    escalation_repeats INTEGER NOT NULL DEFAULT 0,
    next_escalation_at TEXT
);
-- One live incident per group, enforced by the database rather than by luck.
CREATE UNIQUE INDEX incidents_one_live_per_group ON incidents (group_key) WHERE status <> 'resolved';
CREATE INDEX incidents_next_escalation ON incidents (next_escalation_at) WHERE next_escalation_at IS NOT NULL;

CREATE TABLE incident_mentions (
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    mention_id  INTEGER NOT NULL REFERENCES mentions (id),
    risk        INTEGER NOT NULL,
    attached_at TEXT NOT NULL,
    -- The mention as fetched, so a later prune or source edit does not change what the team saw.
    snapshot    TEXT NOT NULL,
    PRIMARY KEY (incident_id, mention_id)
);

CREATE TABLE timeline (
    id          INTEGER PRIMARY KEY,
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    kind        TEXT NOT NULL,
    details     TEXT NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
);
CREATE INDEX timeline_incident ON timeline (incident_id, id);

-- The timeline is evidence: the database itself refuses to change or remove an event.
CREATE TRIGGER timeline_refuses_update BEFORE UPDATE ON timeline
BEGIN
    SELECT RAISE(ABORT, 'the timeline is append-only');
END;
CREATE TRIGGER timeline_refuses_delete BEFORE DELETE ON timeline
BEGIN
    SELECT RAISE(ABORT, 'the timeline is append-only');
END;

-- Notifications waiting for, or done with, delivery. Written in the transaction of the
-- event that causes them.
CREATE TABLE outbox (
    id           INTEGER PRIMARY KEY,
    notice_id    TEXT NOT NULL UNIQUE,
    incident_id  INTEGER NOT NULL REFERENCES incidents (id),
    channel      TEXT NOT NULL,
    kind         TEXT NOT NULL,
    level        INTEGER NOT NULL,
    created_at   TEXT NOT NULL,
    due_at       TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    state        TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    last_error   TEXT,
    delivered_at TEXT
);
CREATE INDEX outbox_due ON outbox (due_at) WHERE state = 'pending';
