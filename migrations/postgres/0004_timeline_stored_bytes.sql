-- The timeline's hash covers the details' bytes as written. JSONB keeps the value but not
-- the bytes (it reorders keys and rewrites numbers), so checking a hash against it meant
-- serializing again, which a float such as a spike's p-value does not survive: the chain
-- read as broken on untouched events. New events keep their bytes here; older ones stay
-- NULL and are checked the old way, which `tocsin incident verify` reports.
ALTER TABLE timeline ADD COLUMN details_text TEXT;
