-- Near-duplicate stories, found by index instead of by comparing with every recent
-- signature: each story keeps its first mention's MinHash signature and its size, and
-- its locality-sensitive band keys point back to it. Only mentions that matched a rule are
-- clustered; `mentions.cluster_id` is NULL for the rest (each is a story of its own).
-- Stories clustered before this migration have no bands: a copy of one arriving after the
-- upgrade starts a new story (novelty looks back 48 hours, so this passes in two days).
CREATE TABLE stories (
    id       INTEGER PRIMARY KEY, -- the id of the story's first mention
    signature BLOB NOT NULL,
    first_at TEXT NOT NULL,
    last_at  TEXT NOT NULL,
    size     INTEGER NOT NULL     -- mentions filed under the story, the first included
);
CREATE INDEX stories_last_at ON stories (last_at);

CREATE TABLE story_bands (
    band     INTEGER NOT NULL,
    story_id INTEGER NOT NULL REFERENCES stories (id),
    PRIMARY KEY (band, story_id)
) WITHOUT ROWID;

-- The story of each rule match, so a spike can name the story that makes it.
ALTER TABLE rule_matches ADD COLUMN story INTEGER;
CREATE INDEX rule_matches_rule_story_at ON rule_matches (rule, story, at) WHERE story IS NOT NULL;

-- Per group: its first mention, its exponentially weighted mention count ("mass", time
-- constant `spike_baseline`) as of `mass_at`, and its last spike (the cool-down). One row
-- updated per mention replaces counting a week of matches for every new one.
CREATE TABLE groups (
    group_key     TEXT PRIMARY KEY,
    first_at      TEXT NOT NULL,
    mass          REAL NOT NULL,
    mass_at       TEXT NOT NULL,
    last_spike_at TEXT
);

-- Existing groups start from their matches of the last seven days (the default time
-- constant), each weighted by e^(-age/7d) to a cubic (within 4% over that range).
INSERT INTO groups (group_key, first_at, mass, mass_at, last_spike_at)
SELECT 'rule:' || r.rule,
       (SELECT MIN(at) FROM rule_matches WHERE rule = r.rule),
       (SELECT SUM(1 - x + x * x / 2 - x * x * x / 6) FROM (
            SELECT (julianday(r.last_at) - julianday(at)) / 7.0 AS x
            FROM rule_matches WHERE rule = r.rule AND at >= strftime('%Y-%m-%dT%H:%M:%fZ', r.last_at, '-7 days')
        )),
       r.last_at,
       (SELECT last_spike_at FROM group_spikes WHERE group_key = 'rule:' || r.rule)
FROM (SELECT rule, MAX(at) AS last_at FROM rule_matches WHERE at IS NOT NULL GROUP BY rule) r;

DROP TABLE group_spikes;
