-- The written text of a status update notice, kept with the notice so a retry or a
-- fallback delivery sends the same words.
ALTER TABLE outbox ADD COLUMN message TEXT;
