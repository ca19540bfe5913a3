-- Security keys and passkeys (WebAuthn) and their ceremony challenges.
CREATE TABLE webauthn_credentials (
    id              TEXT PRIMARY KEY,          -- twofold's id of the factor (Method.id)
    user_id         TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    credential_id   TEXT NOT NULL UNIQUE,      -- base64url of the authenticator's credential id
    name            TEXT NOT NULL,
    public_key      TEXT NOT NULL,             -- base64url COSE key; public, so not sealed
    sign_count      BIGINT NOT NULL,           -- highest signature counter accepted
    aaguid          TEXT NOT NULL,             -- hex
    transports      TEXT NOT NULL,             -- comma-separated
    attestation_fmt TEXT NOT NULL,
    user_verified   INTEGER NOT NULL,          -- UV of the last ceremony
    backup_eligible INTEGER NOT NULL,          -- BE, fixed at registration
    backup_state    INTEGER NOT NULL,          -- BS of the last ceremony
    created_at      BIGINT NOT NULL,
    last_used_at    BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX webauthn_credentials_user ON webauthn_credentials(user_id);

-- One open ceremony per owner and kind; a new start replaces it. The owner is
-- the session that began it, or the hash of a passkey-login cookie.
CREATE TABLE webauthn_challenges (
    owner      TEXT NOT NULL,
    kind       TEXT NOT NULL,                  -- register | login | passkey
    challenge  TEXT NOT NULL,                  -- base64url of 32 random bytes
    user_id    TEXT NOT NULL,                  -- '' for a passkey login
    name       TEXT NOT NULL,                  -- the new credential's name (register)
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (owner, kind)
);
CREATE INDEX webauthn_challenges_expiry ON webauthn_challenges(expires_at);
