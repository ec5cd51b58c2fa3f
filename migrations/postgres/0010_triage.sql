-- A person's verdict on a matched mention: relevant, or not (a false positive). The text and
-- the rule matches are copied in, so the rule-quality feedback outlives the mention's
-- retention.
CREATE TABLE mention_triage (
    mention_id BIGINT PRIMARY KEY,
    verdict    TEXT NOT NULL CHECK (verdict IN ('relevant', 'not_relevant')),
    actor      TEXT NOT NULL,
    at         TIMESTAMPTZ NOT NULL,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    -- [{"rule": ..., "brand": ..., "terms": [...]}]
    matches    JSONB NOT NULL
);
CREATE INDEX mention_triage_at ON mention_triage (at);
