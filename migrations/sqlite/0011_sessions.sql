-- Dashboard logins. The session id in the browser's cookie is stored only as its SHA-256,
-- with the SHA-256 of the token that logged in: a session ends when that token leaves
-- TOCSIN_API_TOKENS, at its idle or absolute expiry, or at logout.
CREATE TABLE sessions (
    id_digest    BLOB PRIMARY KEY,
    token_digest BLOB NOT NULL,
    created_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL
);
CREATE INDEX sessions_last_seen_at ON sessions (last_seen_at);
