-- Which daemon is polling a feed, until when: several daemons on one database never poll a
-- feed at once, and a dead daemon's feeds are taken over when its leases end.
ALTER TABLE feeds ADD COLUMN leased_by TEXT;
ALTER TABLE feeds ADD COLUMN lease_until TEXT;
