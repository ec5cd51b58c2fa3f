-- Dashboard logins. The session id in the browser's cookie is stored only as its SHA-256,
-- with the SHA-256 of the token that logged in: a session ends when that token leaves
-- TOCSIN_API_TOKENS, at its idle or absolute expiry, or at logout.
CREATE TABLE sessions (
    id_digest    BYTEA PRIMARY KEY,
    token_digest BYTEA NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX sessions_last_seen_at ON sessions (last_seen_at);
