-- The whole schema of a PostgreSQL store, equal to the SQLite schema after all its
-- migrations. Times are TIMESTAMPTZ, JSON is JSONB, ids are BIGINT.

-- Key/value settings the daemon creates for itself (e.g. the key that signs acknowledge links).
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);

-- Poll state and health per configured feed.
CREATE TABLE feeds (
    name                 TEXT PRIMARY KEY,
    url                  TEXT NOT NULL,
    etag                 TEXT,
    last_modified        TEXT,
    last_success_at      TIMESTAMPTZ,
    last_error           TEXT,
    last_error_at        TIMESTAMPTZ,
    consecutive_failures BIGINT NOT NULL DEFAULT 0,
    next_poll_at         TIMESTAMPTZ,
    items_seen           BIGINT NOT NULL DEFAULT 0
);

-- Every item seen, once: (feed, guid) is the identity a re-fetch or restart cannot repeat.
-- `signature` is the MinHash signature of its text; `cluster_id` the id of its story's
-- first mention (NULL for mentions that matched no rule: each is a story of its own).
CREATE TABLE mentions (
    id               BIGSERIAL PRIMARY KEY,
    feed             TEXT NOT NULL,
    guid             TEXT NOT NULL,
    title            TEXT NOT NULL,
    body             TEXT NOT NULL,
    author           TEXT,
    url              TEXT,
    published_at     TIMESTAMPTZ,
    fetched_at       TIMESTAMPTZ NOT NULL,
    lang             TEXT,
    risk             BIGINT NOT NULL,
    breakdown        JSONB NOT NULL,
    signature        BYTEA,
    cluster_id       BIGINT,
    -- The language it was read in, and its sentiment in [-1, 1] with the model's outputs.
    analyzed_lang    TEXT,
    sentiment        DOUBLE PRECISION,
    sentiment_detail JSONB,
    UNIQUE (feed, guid)
);
CREATE INDEX mentions_fetched_at ON mentions (fetched_at);

-- Rule matches, with when each happened (publication time, or fetch time when unknown or
-- in the future) and the story of the mention, for spike detection.
CREATE TABLE rule_matches (
    mention_id BIGINT NOT NULL REFERENCES mentions (id),
    rule       TEXT NOT NULL,
    severity   BIGINT NOT NULL,
    terms      JSONB NOT NULL,
    at         TIMESTAMPTZ,
    story      BIGINT,
    PRIMARY KEY (mention_id, rule)
);
CREATE INDEX rule_matches_rule ON rule_matches (rule);
CREATE INDEX rule_matches_rule_at ON rule_matches (rule, at);
CREATE INDEX rule_matches_rule_story_at ON rule_matches (rule, story, at) WHERE story IS NOT NULL;

CREATE TABLE incidents (
    id                 BIGSERIAL PRIMARY KEY,
    group_key          TEXT NOT NULL,
    rule               TEXT NOT NULL,
    title              TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('open', 'acknowledged', 'resolved')),
    level              TEXT NOT NULL CHECK (level IN ('low', 'medium', 'high', 'critical')),
    score              BIGINT NOT NULL,
    why                JSONB NOT NULL,
    opened_at          TIMESTAMPTZ NOT NULL,
    acknowledged_at    TIMESTAMPTZ,
    resolved_at        TIMESTAMPTZ,
    first_mention_at   TIMESTAMPTZ NOT NULL,
    policy             JSONB NOT NULL,
    escalation_step    BIGINT NOT NULL DEFAULT 0,
    escalation_repeats BIGINT NOT NULL DEFAULT 0,
    next_escalation_at TIMESTAMPTZ,
    -- The response workflow: who owns it, its crisis type and the playbook copied when it
    -- opened, whether it is a drill, and when its next overdue-step reminder is due.
    assignee           TEXT,
    crisis_type        TEXT,
    playbook           JSONB,
    drill              BOOLEAN NOT NULL DEFAULT FALSE,
    next_reminder_at   TIMESTAMPTZ
);
-- One live incident per group, enforced by the database rather than by luck.
CREATE UNIQUE INDEX incidents_one_live_per_group ON incidents (group_key) WHERE status <> 'resolved';
CREATE INDEX incidents_next_escalation ON incidents (next_escalation_at) WHERE next_escalation_at IS NOT NULL;
CREATE INDEX incidents_next_reminder ON incidents (next_reminder_at) WHERE next_reminder_at IS NOT NULL;

CREATE TABLE incident_mentions (
    incident_id BIGINT NOT NULL REFERENCES incidents (id),
    mention_id  BIGINT NOT NULL REFERENCES mentions (id),
    risk        BIGINT NOT NULL,
    attached_at TIMESTAMPTZ NOT NULL,
    -- The mention as fetched, so a later prune or source edit does not change what the team saw.
    snapshot    JSONB NOT NULL,
    sentiment   DOUBLE PRECISION,
    PRIMARY KEY (incident_id, mention_id)
);

CREATE TABLE timeline (
    id          BIGSERIAL PRIMARY KEY,
    incident_id BIGINT NOT NULL REFERENCES incidents (id),
    at          TIMESTAMPTZ NOT NULL,
    actor       TEXT NOT NULL,
    kind        TEXT NOT NULL,
    details     JSONB NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
);
CREATE INDEX timeline_incident ON timeline (incident_id, id);

-- The timeline is evidence: the database itself refuses to change or remove an event.
CREATE FUNCTION timeline_refuses_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the timeline is append-only';
END;
$$;
CREATE TRIGGER timeline_refuses_update BEFORE UPDATE ON timeline
    FOR EACH ROW EXECUTE FUNCTION timeline_refuses_change();
CREATE TRIGGER timeline_refuses_delete BEFORE DELETE ON timeline
    FOR EACH ROW EXECUTE FUNCTION timeline_refuses_change();
CREATE TRIGGER timeline_refuses_truncate BEFORE TRUNCATE ON timeline
    FOR EACH STATEMENT EXECUTE FUNCTION timeline_refuses_change();

-- Notifications waiting for, or done with, delivery. Written in the transaction of the
-- event that causes them. A notice sent to a fallback channel remembers the channel it
-- was meant for, so a broken fallback does not pass it on again.
CREATE TABLE outbox (
    id            BIGSERIAL PRIMARY KEY,
    notice_id     TEXT NOT NULL UNIQUE,
    incident_id   BIGINT NOT NULL REFERENCES incidents (id),
    channel       TEXT NOT NULL,
    kind          JSONB NOT NULL,
    level         BIGINT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    due_at        TIMESTAMPTZ NOT NULL,
    attempts      BIGINT NOT NULL DEFAULT 0,
    state         TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    last_error    TEXT,
    delivered_at  TIMESTAMPTZ,
    rerouted_from TEXT
);
CREATE INDEX outbox_due ON outbox (due_at) WHERE state = 'pending';

-- Near-duplicate stories, found by index: each story keeps its first mention's MinHash
-- signature and its size, and its locality-sensitive band keys point back to it.
CREATE TABLE stories (
    id        BIGINT PRIMARY KEY, -- the id of the story's first mention
    signature BYTEA NOT NULL,
    first_at  TIMESTAMPTZ NOT NULL,
    last_at   TIMESTAMPTZ NOT NULL,
    size      BIGINT NOT NULL     -- mentions filed under the story, the first included
);
CREATE INDEX stories_last_at ON stories (last_at);

CREATE TABLE story_bands (
    band     BIGINT NOT NULL,
    story_id BIGINT NOT NULL REFERENCES stories (id),
    PRIMARY KEY (band, story_id)
);

-- Per group: its first mention, its exponentially weighted mention count ("mass", time
-- constant `spike_baseline`) as of `mass_at`, and its last spike (the cool-down).
CREATE TABLE groups (
    group_key     TEXT PRIMARY KEY,
    first_at      TIMESTAMPTZ NOT NULL,
    mass          DOUBLE PRECISION NOT NULL,
    mass_at       TIMESTAMPTZ NOT NULL,
    last_spike_at TIMESTAMPTZ
);

-- Silences: time-bounded, by rule, feed, tag or query. Matching mentions are stored and
-- scored but open and raise nothing; `held` counts the mentions a silence held back.
CREATE TABLE silences (
    id         BIGSERIAL PRIMARY KEY,
    scope      TEXT NOT NULL CHECK (scope IN ('rule', 'feed', 'tag', 'query')),
    value      TEXT NOT NULL,
    reason     TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    ends_at    TIMESTAMPTZ NOT NULL,
    ended_at   TIMESTAMPTZ,
    ended_by   TEXT,
    held       BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX silences_ends_at ON silences (ends_at);

-- Which incidents each silence touched, so its event lands on a timeline once.
CREATE TABLE silence_hits (
    silence_id  BIGINT NOT NULL REFERENCES silences (id),
    incident_id BIGINT NOT NULL REFERENCES incidents (id),
    PRIMARY KEY (silence_id, incident_id)
);

-- Per channel: consecutive failures, the breaker (open until), and whether it is disabled
-- (410 Gone, or by hand) until someone re-enables it. A channel without a row is healthy.
CREATE TABLE channel_health (
    name            TEXT PRIMARY KEY,
    failures        BIGINT NOT NULL DEFAULT 0,
    open_until      TIMESTAMPTZ,
    disabled_at     TIMESTAMPTZ,
    disabled_reason TEXT
);
