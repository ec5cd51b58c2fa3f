-- Near-duplicate clusters: the MinHash signature of each mention's text, and the id of the
-- first mention of its story (its own id when it is the first).
ALTER TABLE mentions ADD COLUMN signature BLOB;
ALTER TABLE mentions ADD COLUMN cluster_id INTEGER;
