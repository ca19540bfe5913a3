-- Trusted devices ("remember this device"). Times are unix microseconds.
CREATE TABLE trusted_devices (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash   TEXT NOT NULL UNIQUE,     -- SHA-256 of the current cookie value
    name         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL DEFAULT 0,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX trusted_devices_user ON trusted_devices(user_id);

-- Hashes a device's token had before it rotated: a browser presenting one
-- again holds a copy of an old cookie, so the device is revoked.
CREATE TABLE trusted_device_retired (
    token_hash TEXT PRIMARY KEY,
    device_id  TEXT NOT NULL REFERENCES trusted_devices(id) ON DELETE CASCADE
);
CREATE INDEX trusted_device_retired_device ON trusted_device_retired(device_id);
