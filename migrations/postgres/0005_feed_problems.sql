-- What the parser recovered from at the feed's last full fetch (a JSON array of sentences),
-- for the feed's health: a feed that parses only after repairs is worth telling its owner
-- about. NULL until a full fetch records it.
ALTER TABLE feeds ADD COLUMN last_problems TEXT;
