-- Items without a publication date whose mentions retention pruned. Nothing else tells such
-- an item is old: while its feed still serves it, it would come back as new on every poll
-- after the prune. A row goes when the feed no longer serves its item.
CREATE TABLE pruned_undated (
    feed TEXT NOT NULL,
    guid TEXT NOT NULL,
    PRIMARY KEY (feed, guid)
) WITHOUT ROWID;
