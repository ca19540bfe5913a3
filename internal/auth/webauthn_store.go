package auth

import (
	"context"
	"errors"
	"time"
)

// ErrLimit is a store's answer when an insert would pass the limit it was
// given.
var ErrLimit = errors.New("limit reached")

// WebAuthnCredential is a registered security key or passkey. Nothing in it
// is secret: the public key is public by design (see docs/behaviour.md).
type WebAuthnCredential struct {
	ID     string
	UserID string
	// CredentialID is the authenticator's credential id, base64url.
	CredentialID string
	Name         string
	// PublicKey is the COSE-encoded public key, base64url.
	PublicKey string
	// SignCount is the highest signature counter accepted so far.
	SignCount uint32
	// AAGUID is the authenticator model, hex (all zeros under attestation "none").
	AAGUID            string
	Transports        []string
	AttestationFormat string
	// UserVerified, BackupEligible and BackupState are the UV, BE and BS
	// flags; BE is fixed at registration, UV and BS are from the last use.
	UserVerified   bool
	BackupEligible bool
	BackupState    bool
	CreatedAt      time.Time
	LastUsedAt     time.Time
}

// WebAuthnChallenge is an open WebAuthn ceremony.
type WebAuthnChallenge struct {
	// Owner is what the ceremony is bound to: "session:<id>" or
	// "passkey:<hash of the ceremony cookie>".
	Owner string
	// Kind is ChallengeRegister, ChallengeLogin or ChallengePasskey.
	Kind string
	// Challenge is base64url of 32 random bytes.
	Challenge string
	// UserID is the user the ceremony is for ("" for a passkey login).
	UserID string
	// Name is the name the new credential gets (registration only).
	Name      string
	ExpiresAt time.Time
}

// The kinds of WebAuthn ceremony.
const (
	ChallengeRegister = "register"
	ChallengeLogin    = "login"
	ChallengePasskey  = "passkey"
)

// WebAuthnStore stores WebAuthn credentials and ceremony challenges.
type WebAuthnStore interface {
	// PutWebAuthnChallenge stores c, replacing the owner's open ceremony of
	// the same kind.
	PutWebAuthnChallenge(ctx context.Context, c WebAuthnChallenge) error
	// TakeWebAuthnChallenge deletes and returns the owner's ceremony of this
	// kind and challenge if it expires after now, in one statement, so each
	// challenge is taken at most once by anyone. ErrNotFound otherwise.
	TakeWebAuthnChallenge(ctx context.Context, owner, kind, challenge string, now time.Time) (WebAuthnChallenge, error)
	// DeleteExpiredWebAuthnChallenges removes ceremonies that expired at or
	// before now, returning how many.
	DeleteExpiredWebAuthnChallenges(ctx context.Context, now time.Time) (int64, error)

	// AddWebAuthnCredential inserts c; when backupHashes is not nil it also
	// replaces the user's backup codes with them, atomically. ErrDuplicate
	// when the credential id is registered already (to anyone); ErrLimit,
	// adding nothing, when the user has max credentials already (counted
	// under the user's lock, so concurrent adds cannot pass it).
	AddWebAuthnCredential(ctx context.Context, c WebAuthnCredential, backupHashes []string, now time.Time, max int) error
	// WebAuthnCredentials lists a user's credentials, oldest first.
	WebAuthnCredentials(ctx context.Context, userID string) ([]WebAuthnCredential, error)
	// UseWebAuthnCredential records a successful assertion on credential id:
	// the new signature counter, UV and BS flags and the time. It writes only
	// while the stored counter is below signCount, or both are 0 (an
	// authenticator without a counter), and BE is still backupEligible.
	// false when it did not (the counter did not advance: a clone or a race).
	// When rotate is not nil the session is rotated (as RotateSession) in
	// the same write, all or nothing: ErrSessionRotated, with nothing
	// changed, when the counter would have been recorded but the session
	// was rotated or removed meanwhile.
	UseWebAuthnCredential(ctx context.Context, id string, signCount uint32, userVerified, backupEligible, backupState bool, at time.Time, rotate *SessionRotation) (bool, error)
	// DeleteWebAuthnCredential removes credential id of userID. ErrNotFound.
	DeleteWebAuthnCredential(ctx context.Context, userID, id string) error
}
