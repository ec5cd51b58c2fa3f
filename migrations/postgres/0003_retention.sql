-- Retention pruning looks up, for each old mention, whether an incident holds it, and
-- removing a story checks its band keys (the foreign key): both by the referencing column,
-- which no primary key here starts with.
CREATE INDEX incident_mentions_mention ON incident_mentions (mention_id);
CREATE INDEX story_bands_story ON story_bands (story_id);
