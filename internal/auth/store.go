package auth

import (
	"context"
	"time"
)

// Store is what the service needs from a database. Implementations hold no
// product rules: every decision is made here in package auth, and every
// one-time or counting rule is handed to the store as one conditional
// statement (a compare-and-set, a conditional update), so that two instances
// sharing a database can never both win.
type Store interface {
	Users
	Sessions
	Events
	Factors
	WebAuthnStore
	Settings
	Resealer
	SMSFactors
	Deliveries
	SeenClients
	Devices
	Accounts
	Importer
	// Ping reports whether the database answers.
	Ping(ctx context.Context) error
}

// Users stores accounts.
type Users interface {
	// CreateUser inserts u. ErrDuplicate when the email is taken.
	CreateUser(ctx context.Context, u User) error
	// UserByEmail finds a user by normalised email. ErrNotFound.
	UserByEmail(ctx context.Context, email string) (User, error)
	// UserByID finds a user. ErrNotFound.
	UserByID(ctx context.Context, id string) (User, error)
	// SetPasswordHash replaces a user's password hash. ErrNotFound.
	SetPasswordHash(ctx context.Context, userID, hash string) error
	// SetPasswordHashIf replaces a user's password hash with newHash, but
	// only while it is still oldHash (a compare-and-set). false when it is not.
	SetPasswordHashIf(ctx context.Context, userID, oldHash, newHash string) (bool, error)
}

// Sessions stores sessions by the hash of their token.
type Sessions interface {
	// CreateSession inserts s. ErrNotFound when its user, or its DeviceID's
	// device, is gone.
	CreateSession(ctx context.Context, s Session) error
	// SessionByTokenHash finds a session. ErrNotFound.
	SessionByTokenHash(ctx context.Context, tokenHash string) (Session, error)
	// SessionAndUser finds a session and its user in one read and, for a
	// pending session (there to finish a login with a second factor), the
	// user's authenticator apps as TOTPAuthenticators lists them; nil for
	// any other session. ErrNotFound.
	SessionAndUser(ctx context.Context, tokenHash string) (Session, User, []TOTPAuthenticator, error)
	// RotateSession replaces session next.ID's token hash, state, auth time and
	// last-seen time, but only while its token hash is still oldHash, so a token
	// can be rotated once. ErrNotFound when it was not.
	RotateSession(ctx context.Context, oldHash string, next Session) error
	// TouchSession records activity on a session.
	TouchSession(ctx context.Context, id string, at time.Time) error
	// DeleteSession removes one session (no error when it is already gone).
	DeleteSession(ctx context.Context, id string) error
	// DeleteUserSessions removes every session of a user except exceptID.
	DeleteUserSessions(ctx context.Context, userID, exceptID string) error
	// DeleteExpiredSessions removes sessions idle since before idleBefore or
	// created before createdBefore, returning how many it removed.
	DeleteExpiredSessions(ctx context.Context, idleBefore, createdBefore time.Time) (int64, error)
}

// Events stores the audit trail.
type Events interface {
	// AddEvent appends e.
	AddEvent(ctx context.Context, e Event) error
	// Events lists events matching f, newest first.
	Events(ctx context.Context, f EventFilter) ([]Event, error)
}

// TOTPAuthenticator is a confirmed authenticator app. Secret is sealed.
type TOTPAuthenticator struct {
	ID         string
	UserID     string
	Name       string
	Secret     string
	Algorithm  string
	Digits     int
	Period     int
	LastStep   int64
	CreatedAt  time.Time
	LastUsedAt time.Time
}

// PendingTOTP is an authenticator app being set up. Secret is sealed.
type PendingTOTP struct {
	ID        string
	UserID    string
	Name      string
	Secret    string
	CreatedAt time.Time
}

// Sealed is one encrypted value in the database, for key rotation.
type Sealed struct {
	// Kind names where it lives: "totp", "totp_pending", "setting", "sms",
	// "sms_pending" or "delivery".
	Kind  string
	ID    string
	Value string
}

// SessionRotation is a session's new token hash and state (Next), to be
// set only while its token hash is still OldHash (RotateSession).
type SessionRotation struct {
	OldHash string
	Next    Session
}

// Factors stores second factors and the lockout counter.
type Factors interface {
	// ClaimAttempt sets a user's failure count and lockout end, but only while
	// they are still prev and prevLockedUntil: a compare-and-set, so concurrent
	// attempts on any instance each claim their own count. false when it lost.
	// events, if any, are stored in the same transaction when (and only
	// when) the claim wins: an attempt known to fail is counted and recorded
	// in one write.
	ClaimAttempt(ctx context.Context, userID string, prev int, prevLockedUntil time.Time, next int, lockedUntil time.Time, events ...Event) (bool, error)
	// ResetAttempts clears a user's failure count and lockout, but only while
	// they are still the count and lockout end that the succeeding attempt
	// claimed (ClaimAttempt's next and lockedUntil): if others claimed
	// attempts since, their failures stand.
	ResetAttempts(ctx context.Context, userID string, claimed int, claimedLockedUntil time.Time) error

	// PutPendingTOTP stores p, replacing the user's previous pending setup.
	PutPendingTOTP(ctx context.Context, p PendingTOTP) error
	// PendingTOTP returns the user's pending setup. ErrNotFound.
	PendingTOTP(ctx context.Context, userID string) (PendingTOTP, error)
	// ConfirmTOTP atomically deletes the pending setup a.ID of a.UserID and
	// inserts a; when backupHashes is not nil it also replaces the user's
	// backup codes with them. ErrNotFound when that pending setup is gone
	// (confirmed or replaced meanwhile).
	ConfirmTOTP(ctx context.Context, a TOTPAuthenticator, backupHashes []string, now time.Time) error
	// TOTPAuthenticators lists a user's authenticators, oldest first.
	TOTPAuthenticators(ctx context.Context, userID string) ([]TOTPAuthenticator, error)
	// UseTOTPStep records step as used on authenticator id, only if it is
	// later than every step used before, and, when rotate is not nil,
	// rotates the session (as RotateSession) in the same write, all or
	// nothing. false, with nothing changed, when the step is not later (a
	// replay); ErrSessionRotated, with nothing changed, when it is but the
	// session was rotated or removed meanwhile.
	UseTOTPStep(ctx context.Context, id string, step int64, at time.Time, rotate *SessionRotation) (bool, error)
	// SucceedTOTP is a success by authenticator app in one write, all or
	// nothing: it uses up step on authenticator id of userID (as
	// UseTOTPStep), clears the user's failure count and lockout while they
	// are still prev and prevLockedUntil, rotates the session when rotate
	// is not nil (as RotateSession), and stores events. false, with nothing
	// changed, when any compare-and-set lost.
	SucceedTOTP(ctx context.Context, userID string, prev int, prevLockedUntil time.Time, id string, step int64, at time.Time, rotate *SessionRotation, events ...Event) (bool, error)
	// DeleteTOTP removes authenticator id of userID. ErrNotFound.
	DeleteTOTP(ctx context.Context, userID, id string) error

	// ReplaceBackupCodes replaces a user's backup codes with hashes.
	ReplaceBackupCodes(ctx context.Context, userID string, hashes []string, now time.Time) error
	// UseBackupCode marks the user's unused code with this hash used and,
	// when rotate is not nil, rotates the session (as RotateSession) in the
	// same write, all or nothing. false, with nothing changed, when there is
	// no such code (wrong or already used); ErrSessionRotated, with nothing
	// changed, when there is but the session was rotated or removed
	// meanwhile.
	UseBackupCode(ctx context.Context, userID, hash string, at time.Time, rotate *SessionRotation) (bool, error)
	// BackupCodesRemaining counts a user's unused backup codes.
	BackupCodesRemaining(ctx context.Context, userID string) (int, error)

	// DeleteSecondFactors removes every second factor, pending setup,
	// backup code and trusted device of a user, in one transaction. It is the
	// one place that knows every kind of factor: a new kind adds its tables here.
	DeleteSecondFactors(ctx context.Context, userID string) error
}

// Settings stores server-wide values shared by every instance.
type Settings interface {
	// Setting returns a value. ErrNotFound.
	Setting(ctx context.Context, name string) (string, error)
	// AddSetting stores a value unless one exists (first writer wins).
	AddSetting(ctx context.Context, name, value string) error
}

// Resealer lets key rotation find and replace sealed values.
type Resealer interface {
	// SealedValues lists every sealed value in the database.
	SealedValues(ctx context.Context) ([]Sealed, error)
	// ReplaceSealed swaps one sealed value for another, only if it still
	// holds old. false when it changed meanwhile.
	ReplaceSealed(ctx context.Context, kind, id, old, new string) (bool, error)
}
