package auth

import (
	"time"
)

// User is an account. PasswordHash is a PHC string and never leaves the server.
type User struct {
	ID           string
	Email        string
	PasswordHash string
	CreatedAt    time.Time
	// FailedAttempts counts consecutive failed second-factor attempts; only a
	// success resets it, a lockout does not.
	FailedAttempts int
	// LockedUntil is when the current second-factor lockout ends (zero: none).
	LockedUntil time.Time
}

// SessionState says how far a session has come.
type SessionState string

// The session states of SPEC §2.
const (
	// StatePending: the password was accepted and a second factor is owed.
	StatePending SessionState = "pending"
	// StateAuthenticated: signed in.
	StateAuthenticated SessionState = "authenticated"
)

// Session is a server-side session. Its token is given to the client once and
// stored only as TokenHash. ID is stable across token rotations, so what is
// bound to a login attempt (codes, challenges) survives a rotation.
type Session struct {
	ID         string
	TokenHash  string
	UserID     string
	State      SessionState
	CreatedAt  time.Time
	LastSeenAt time.Time
	// AuthAt is the last password or second-factor success, for recent authentication.
	AuthAt    time.Time
	IP        string
	UserAgent string
	// DeviceID is the trusted device that signed this session in, if any:
	// removing the device ends the session.
	DeviceID string

	// totp is the user's authenticator apps, read with a pending session
	// (in the same read as the session), so that the code that finishes
	// the login needs no read of its own; nil when not read.
	totp []TOTPAuthenticator
}

// Event is one entry of the audit trail. Detail never holds a secret.
type Event struct {
	ID        string
	Time      time.Time
	Type      string
	UserID    string
	IP        string
	UserAgent string
	Detail    map[string]any
}

// EventFilter selects events, newest first.
type EventFilter struct {
	UserID string
	Type   string
	Limit  int
}

// Client describes who is making a request, for events, alerts and rate limits.
type Client struct {
	IP        string
	UserAgent string
}

// The event types of SPEC §4.
const (
	EventUserRegistered       = "user.registered"
	EventLoginSucceeded       = "login.succeeded"
	EventLoginFailed          = "login.failed"
	EventLoginTrustedDevice   = "login.trusted_device"
	Event2FASucceeded         = "2fa.succeeded"
	Event2FAFailed            = "2fa.failed"
	Event2FALocked            = "2fa.locked"
	EventTOTPEnabled          = "totp.enabled"
	EventTOTPRemoved          = "totp.removed"
	EventWebAuthnRegistered   = "webauthn.registered"
	EventWebAuthnRemoved      = "webauthn.removed"
	EventWebAuthnRegressed    = "webauthn.counter_regressed"
	EventSMSEnabled           = "sms.enabled"
	EventSMSRemoved           = "sms.removed"
	EventBackupCodeUsed       = "backup_code.used"
	EventBackupCodesGenerated = "backup_codes.generated"
	Event2FADisabled          = "2fa.disabled"
	EventDeviceTrusted        = "device.trusted"
	EventDeviceRevoked        = "device.revoked"
	EventAdminReset2FA        = "admin.reset_2fa"
	EventAdminUnlocked        = "admin.unlocked"
)

// Method is one enrolled second factor as the user sees it.
type Method struct {
	ID         string
	Name       string
	CreatedAt  time.Time
	LastUsedAt time.Time
	// Phone is set for SMS, masked but for the last two digits.
	Phone string
}

// Profile is a user's account with their second factors.
type Profile struct {
	User                 User
	TOTP                 []Method
	WebAuthn             []Method
	SMS                  []Method
	BackupCodesRemaining int
}

// TwoFactorEnabled reports whether the user has any second factor.
func (p Profile) TwoFactorEnabled() bool {
	return len(p.TOTP)+len(p.WebAuthn)+len(p.SMS) > 0
}
