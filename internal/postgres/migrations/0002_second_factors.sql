-- Authenticator apps, backup codes and server-wide settings.
-- Mirrors internal/sqlite/migrations/0002_second_factors.sql (see 0001 for COLLATE "C").
CREATE TABLE totp_authenticators (
    id           TEXT COLLATE "C" PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    secret       TEXT NOT NULL,            -- sealed (package seal), bound to "totp:<id>"
    algorithm    TEXT NOT NULL,
    digits       INTEGER NOT NULL,
    period       INTEGER NOT NULL,
    last_step    BIGINT NOT NULL,          -- highest time step accepted (RFC 6238 §5.2)
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX totp_authenticators_user ON totp_authenticators(user_id);

-- One authenticator being set up per user; a new setup replaces it.
CREATE TABLE totp_pending (
    user_id    TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    id         TEXT NOT NULL,              -- the id the authenticator will have
    name       TEXT NOT NULL,
    secret     TEXT NOT NULL,              -- sealed, bound to "totp:<id>"
    created_at BIGINT NOT NULL
);

CREATE TABLE backup_codes (
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash  TEXT NOT NULL,              -- keyed hash (package backupcode)
    created_at BIGINT NOT NULL,
    used_at    BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
