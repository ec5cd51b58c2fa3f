-- Each group's weighted mention count split by the UTC hour of day the mentions were
-- published in (a JSON array of 24 numbers summing to `mass`), so a spike is judged against
-- the group's own hour of day and the morning rise is not one. NULL in rows written before:
-- read as the mass spread evenly over the day, which judges as before until new mentions
-- teach the cycle.
ALTER TABLE groups ADD COLUMN mass_hours TEXT;
