-- Accounts, sessions and the audit trail. Times are unix microseconds.
-- Mirrors internal/sqlite/migrations/0001_accounts.sql; the only difference is
-- COLLATE "C" on the ids that are listed in id order, so they sort by bytes
-- (as in SQLite) whatever the database's default collation.
CREATE TABLE users (
    id              TEXT PRIMARY KEY,
    email           TEXT NOT NULL UNIQUE,
    password_hash   TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    locked_until    BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,
    token_hash   TEXT NOT NULL UNIQUE,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    state        TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    auth_at      BIGINT NOT NULL,
    ip           TEXT NOT NULL,
    user_agent   TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);
CREATE INDEX sessions_last_seen ON sessions(last_seen_at);

CREATE TABLE events (
    id         TEXT COLLATE "C" PRIMARY KEY,
    time       BIGINT NOT NULL,
    type       TEXT NOT NULL,
    user_id    TEXT,
    ip         TEXT NOT NULL,
    user_agent TEXT NOT NULL,
    detail     TEXT NOT NULL
);
CREATE INDEX events_user ON events(user_id, id);
CREATE INDEX events_type ON events(type, id);
