-- Several brands (clients and competitors) in one install, from `[[brand]]` in the config.
-- `brand` is '' where the config names none: everything written before brands existed
-- reads as the install's one brand until `adopt_unbranded` files it under the configured
-- one.

-- A mention naming two brands is judged for each: a rule match is of one brand.
CREATE TABLE rule_matches_by_brand (
    mention_id INTEGER NOT NULL REFERENCES mentions (id),
    brand      TEXT NOT NULL DEFAULT '',
    rule       TEXT NOT NULL,
    severity   INTEGER NOT NULL,
    terms      TEXT NOT NULL,
    at         TEXT,
    story      INTEGER,
    PRIMARY KEY (mention_id, brand, rule)
) WITHOUT ROWID;
INSERT INTO rule_matches_by_brand (mention_id, brand, rule, severity, terms, at, story)
    SELECT mention_id, '', rule, severity, terms, at, story FROM rule_matches;
DROP TABLE rule_matches;
ALTER TABLE rule_matches_by_brand RENAME TO rule_matches;
CREATE INDEX rule_matches_rule ON rule_matches (rule);
CREATE INDEX rule_matches_brand_rule_at ON rule_matches (brand, rule, at);
CREATE INDEX rule_matches_brand_rule_story_at ON rule_matches (brand, rule, story, at) WHERE story IS NOT NULL;

-- The brands each mention names (or whose search feed it came from), matched or not:
-- share of voice counts them. `at` is the mention's time as rule matches take it.
CREATE TABLE mention_brands (
    mention_id INTEGER NOT NULL REFERENCES mentions (id),
    brand      TEXT NOT NULL,
    at         TEXT NOT NULL,
    PRIMARY KEY (mention_id, brand)
) WITHOUT ROWID;
CREATE INDEX mention_brands_brand_at ON mention_brands (brand, at);

ALTER TABLE incidents ADD COLUMN brand TEXT NOT NULL DEFAULT '';
CREATE INDEX incidents_brand ON incidents (brand);

-- A silence may hold back one brand's incidents only (NULL: every brand's).
ALTER TABLE silences ADD COLUMN brand TEXT;
