-- The language each mention was read in and its sentiment in [-1, 1] (with the model's own
-- outputs as JSON). The incident's copy of the sentiment outlives the pruned mention, for
-- the review's sentiment over time.
ALTER TABLE mentions ADD COLUMN analyzed_lang TEXT;
ALTER TABLE mentions ADD COLUMN sentiment REAL;
ALTER TABLE mentions ADD COLUMN sentiment_detail TEXT;
ALTER TABLE incident_mentions ADD COLUMN sentiment REAL;

-- Volume per group over time, for spike detection: when each rule match happened (the
-- mention's publication time, or its fetch time when unknown or in the future).
ALTER TABLE rule_matches ADD COLUMN at TEXT;
UPDATE rule_matches SET at = (
    SELECT CASE WHEN m.published_at IS NOT NULL AND m.published_at <= m.fetched_at
                THEN m.published_at ELSE m.fetched_at END
    FROM mentions m WHERE m.id = rule_matches.mention_id
);
CREATE INDEX rule_matches_rule_at ON rule_matches (rule, at);

-- When each group last spiked, so one storm raises its level once (the cool-down).
CREATE TABLE group_spikes (
    group_key     TEXT PRIMARY KEY,
    last_spike_at TEXT NOT NULL
);
