-- The response workflow on each incident: who owns it, its crisis type and the playbook
-- copied when it opened (later edits to the playbook files don't change a running
-- incident), whether it is a drill, and when its next overdue-step reminder is due.
ALTER TABLE incidents ADD COLUMN assignee TEXT;
ALTER TABLE incidents ADD COLUMN crisis_type TEXT;
ALTER TABLE incidents ADD COLUMN playbook TEXT;
ALTER TABLE incidents ADD COLUMN drill INTEGER NOT NULL DEFAULT 0;
ALTER TABLE incidents ADD COLUMN next_reminder_at TEXT;
CREATE INDEX incidents_next_reminder ON incidents (next_reminder_at) WHERE next_reminder_at IS NOT NULL;
-- Acknowledged incidents can be due too now (an `ack_timeout` returns them to open).
DROP INDEX incidents_next_escalation;
CREATE INDEX incidents_next_escalation ON incidents (next_escalation_at) WHERE next_escalation_at IS NOT NULL;

-- Silences: time-bounded, by rule, feed, tag or query. Matching mentions are stored and
-- scored but open and raise nothing; `held` counts the mentions a silence held back.
CREATE TABLE silences (
    id         INTEGER PRIMARY KEY,
    scope      TEXT NOT NULL CHECK (scope IN ('rule', 'feed', 'tag', 'query')),
    value      TEXT NOT NULL,
    reason     TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    ends_at    TEXT NOT NULL,
    ended_at   TEXT,
    ended_by   TEXT,
    held       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX silences_ends_at ON silences (ends_at);

-- Which incidents each silence touched, so its event lands on a timeline once.
CREATE TABLE silence_hits (
    silence_id  INTEGER NOT NULL REFERENCES silences (id),
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    PRIMARY KEY (silence_id, incident_id)
) WITHOUT ROWID;
