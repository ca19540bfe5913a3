-- When each old device token was retired (unix microseconds; 0 for tokens
-- retired before this migration): a reuse within seconds is a lost race
-- (a double-submitted login), later it is a copied cookie.
ALTER TABLE trusted_device_retired ADD COLUMN retired_at BIGINT NOT NULL DEFAULT 0;

-- The trusted device that signed a session in (NULL otherwise): revoking,
-- evicting or sweeping the device ends the sessions it opened.
ALTER TABLE sessions ADD COLUMN device_id TEXT REFERENCES trusted_devices(id) ON DELETE CASCADE;
CREATE INDEX sessions_device ON sessions(device_id);
