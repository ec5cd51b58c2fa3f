-- Several brands (clients and competitors) in one install, from `[[brand]]` in the config.
-- `brand` is '' where the config names none: everything written before brands existed
-- reads as the install's one brand until `adopt_unbranded` files it under the configured
-- one.

-- A mention naming two brands is judged for each: a rule match is of one brand.
ALTER TABLE rule_matches ADD COLUMN brand TEXT NOT NULL DEFAULT '';
ALTER TABLE rule_matches DROP CONSTRAINT rule_matches_pkey;
ALTER TABLE rule_matches ADD PRIMARY KEY (mention_id, brand, rule);
DROP INDEX rule_matches_rule_at;
DROP INDEX rule_matches_rule_story_at;
CREATE INDEX rule_matches_brand_rule_at ON rule_matches (brand, rule, at);
CREATE INDEX rule_matches_brand_rule_story_at ON rule_matches (brand, rule, story, at) WHERE story IS NOT NULL;

-- The brands each mention names (or whose search feed it came from), matched or not:
-- share of voice counts them. `at` is the mention's time as rule matches take it.
CREATE TABLE mention_brands (
    mention_id BIGINT NOT NULL REFERENCES mentions (id),
    brand      TEXT NOT NULL,
    at         TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (mention_id, brand)
);
CREATE INDEX mention_brands_brand_at ON mention_brands (brand, at);

ALTER TABLE incidents ADD COLUMN brand TEXT NOT NULL DEFAULT '';
CREATE INDEX incidents_brand ON incidents (brand);

-- A silence may hold back one brand's incidents only (NULL: every brand's).
ALTER TABLE silences ADD COLUMN brand TEXT;
