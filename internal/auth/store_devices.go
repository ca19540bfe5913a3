package auth

import (
	"context"
	"time"
)

// TrustedDevice is a browser a user chose to remember after a second factor
// ("remember this device"). Its token is given to the browser once, as a
// cookie, and stored only as TokenHash; every use rotates it.
type TrustedDevice struct {
	ID         string
	UserID     string
	TokenHash  string
	Name       string
	CreatedAt  time.Time
	LastUsedAt time.Time
	ExpiresAt  time.Time
	// RetiredAt, set by TrustedDeviceByToken for a stale token, is when that
	// token was rotated away; zero when unknown (retired before migration 0006).
	RetiredAt time.Time
}

// Devices stores trusted devices.
type Devices interface {
	// AddTrustedDevice inserts d, then removes d.UserID's oldest devices
	// beyond the newest keep (with the sessions they signed in), in one
	// transaction that holds the user's lock, so concurrent inserts cannot
	// leave more than keep.
	AddTrustedDevice(ctx context.Context, d TrustedDevice, keep int) error
	// TrustedDeviceByToken finds the device whose current token hash is
	// tokenHash (stale false) or, failing that, the device that had
	// tokenHash before a rotation (stale true). ErrNotFound.
	TrustedDeviceByToken(ctx context.Context, tokenHash string) (d TrustedDevice, stale bool, err error)
	// RotateTrustedDevice replaces device id's token hash with newHash and
	// records its use at at, but only while its token hash is still oldHash
	// (one conditional update, so a token is used once however many requests
	// present it). oldHash is kept as a retired hash of the device, retired
	// at at, for TrustedDeviceByToken. false when it lost.
	RotateTrustedDevice(ctx context.Context, id, oldHash, newHash string, at time.Time) (bool, error)
	// TrustedDevices lists a user's devices, oldest first.
	TrustedDevices(ctx context.Context, userID string) ([]TrustedDevice, error)
	// Removing a device (any of the Delete methods below, or
	// DeleteSecondFactors) also removes the sessions it signed in
	// (Session.DeviceID).
	//
	// DeleteTrustedDevice removes device id of userID. ErrNotFound.
	DeleteTrustedDevice(ctx context.Context, userID, id string) error
	// DeleteTrustedDevices removes every device of a user and returns how
	// many. Sessions signed in by a device end with it, except
	// keepSessionID (when not ""), which is detached from its device in
	// the same transaction: the session making the change outlives it.
	DeleteTrustedDevices(ctx context.Context, userID, keepSessionID string) (int, error)
	// DeleteExpiredTrustedDevices removes devices that expired before
	// before (with their retired hashes) and returns how many.
	DeleteExpiredTrustedDevices(ctx context.Context, before time.Time) (int, error)
}

// Accounts holds what administrators need beyond Users.
type Accounts interface {
	// ListUsers lists users with an id after afterID ("" for the first),
	// in id (creation) order, at most limit.
	ListUsers(ctx context.Context, afterID string, limit int) ([]User, error)
	// ClearAttempts sets a user's failure count to 0 and lifts any lockout,
	// whatever they are. ErrNotFound.
	ClearAttempts(ctx context.Context, userID string) error
}
