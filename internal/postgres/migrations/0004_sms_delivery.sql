-- SMS codes, the durable delivery queue, and known sign-in clients.
-- Times are unix microseconds. Mirrors internal/sqlite/migrations/0004_sms_delivery.sql.

-- A user's phone for SMS codes (one per user; a new one replaces it).
CREATE TABLE sms_phones (
    id           TEXT COLLATE "C" PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    phone        TEXT NOT NULL,            -- sealed (package seal), bound to "sms:<id>"
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX sms_phones_user ON sms_phones(user_id);

-- One phone being set up per user; a new setup replaces it.
CREATE TABLE sms_pending (
    user_id    TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    id         TEXT NOT NULL,              -- the id the phone will have
    name       TEXT NOT NULL,
    phone      TEXT NOT NULL,              -- sealed, bound to "sms:<id>"
    created_at BIGINT NOT NULL
);

-- The one live SMS code of a session (login attempt or setup); a resend
-- replaces it. Only a keyed hash of the code is kept.
CREATE TABLE sms_codes (
    session_id TEXT PRIMARY KEY REFERENCES sessions(id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL,              -- login or setup
    phone_id   TEXT NOT NULL,
    code_hash  TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sms_codes_user ON sms_codes(user_id);

-- Codes sent per account in the last hour, for the send limit.
CREATE TABLE sms_sends (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    sent_at BIGINT NOT NULL
);
CREATE INDEX sms_sends_user ON sms_sends(user_id, sent_at);

-- Messages waiting to be sent (alerts until sent; codes while being sent).
CREATE TABLE deliveries (
    id          TEXT COLLATE "C" PRIMARY KEY,
    kind        TEXT NOT NULL,             -- alert or code
    channel     TEXT NOT NULL,             -- email, sms or webhook
    payload     TEXT NOT NULL,             -- sealed message, bound to "delivery:<id>"; '' once given up
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL DEFAULT 0, -- 0: never
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_at     BIGINT NOT NULL,
    lease_owner TEXT NOT NULL DEFAULT '',
    lease_until BIGINT NOT NULL DEFAULT 0,
    failed_at   BIGINT NOT NULL DEFAULT 0, -- given up at
    last_error  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX deliveries_due ON deliveries(next_at) WHERE failed_at = 0;

-- Networks ("ip") and browser families ("ua") each user has signed in from.
CREATE TABLE seen_clients (
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    value      TEXT NOT NULL,
    first_seen BIGINT NOT NULL,
    PRIMARY KEY (user_id, kind, value)
);
