// Package storetest is the conformance suite for auth.Store: one set of
// behavioural tests that every database backend must pass.
package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twofold-auth/twofold/internal/auth"
)

// Run runs the whole suite. open must return a fresh, empty, migrated store
// on every call (and arrange its own cleanup with t.Cleanup).
func Run(t *testing.T, open func(t *testing.T) auth.Store) {
	groups := []struct {
		name  string
		cases []testCase
	}{
		{"Users", userCases},
		{"Sessions", sessionCases},
		{"Events", eventCases},
		{"Attempts", attemptCases},
		{"TOTP", totpCases},
		{"BackupCodes", backupCases},
		{"Settings", settingCases},
		{"Sealed", sealedCases},
		{"Concurrency", concurrencyCases},
		{"SMS", smsCases},
		{"Deliveries", deliveryCases},
		{"SMSConcurrency", smsConcurrencyCases},
		{"WebAuthn", webauthnCases},
		{"WebAuthnConcurrency", webauthnRaceCases},
		{"Devices", deviceCases},
		{"Accounts", accountCases},
		{"DeviceRaces", deviceRaceCases},
		{"DeviceSessions", deviceSessionCases},
		{"Import", importCases},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, c := range g.cases {
				t.Run(c.name, func(t *testing.T) {
					c.test(t, open(t))
				})
			}
		})
	}
}

type testCase struct {
	name string
	test func(t *testing.T, s auth.Store)
}

// t0 is the suite's fixed "now".
var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func ctx(t *testing.T) context.Context { return t.Context() }

func must(t *testing.T, doing string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", doing, err)
	}
}

func wantIs(t *testing.T, doing string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", doing, err, target)
	}
}

func wantBool(t *testing.T, doing string, got bool, err error, want bool) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", doing, err)
	}
	if got != want {
		t.Fatalf("%s: got %v, want %v", doing, got, want)
	}
}

func wantTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Errorf("%s: got %v, want %v", what, got, want)
	}
}

func wantInt(t *testing.T, what string, got, want int) {
	t.Helper()
	if got != want {
		t.Errorf("%s: got %d, want %d", what, got, want)
	}
}

func wantString(t *testing.T, what, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s: got %q, want %q", what, got, want)
	}
}

// newUser returns a user with id, an email derived from it and t0.
func newUser(id string) auth.User {
	return auth.User{
		ID:           id,
		Email:        id + "@example.com",
		PasswordHash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2g",
		CreatedAt:    t0,
	}
}

// addUser stores newUser(id).
func addUser(t *testing.T, s auth.Store, id string) auth.User {
	t.Helper()
	u := newUser(id)
	must(t, "create user "+id, s.CreateUser(ctx(t), u))
	return u
}

func newSession(id, userID, tokenHash string) auth.Session {
	return auth.Session{
		ID:         id,
		TokenHash:  tokenHash,
		UserID:     userID,
		State:      auth.StatePending,
		CreatedAt:  t0,
		LastSeenAt: t0,
		IP:         "192.0.2.1",
		UserAgent:  "storetest/1.0",
	}
}

// rotation is the sign-in of session id of userID at `at`: from token hash
// old to hash, authenticated.
func rotation(id, userID, old, hash string, at time.Time) *auth.SessionRotation {
	next := newSession(id, userID, hash)
	next.State, next.AuthAt, next.LastSeenAt = auth.StateAuthenticated, at, at
	return &auth.SessionRotation{OldHash: old, Next: next}
}

func addSession(t *testing.T, s auth.Store, sess auth.Session) {
	t.Helper()
	must(t, "create session "+sess.ID, s.CreateSession(ctx(t), sess))
}

func newAuthenticator(id, userID string) auth.TOTPAuthenticator {
	return auth.TOTPAuthenticator{
		ID:        id,
		UserID:    userID,
		Name:      "Phone " + id,
		Secret:    "sealed-secret-" + id,
		Algorithm: "SHA1",
		Digits:    6,
		Period:    30,
		LastStep:  100,
		CreatedAt: t0,
	}
}

// addAuthenticator stores a pending setup for a and confirms it.
func addAuthenticator(t *testing.T, s auth.Store, a auth.TOTPAuthenticator, backupHashes []string) {
	t.Helper()
	must(t, "put pending "+a.ID, s.PutPendingTOTP(ctx(t), auth.PendingTOTP{ID: a.ID, UserID: a.UserID, Name: a.Name, Secret: a.Secret, CreatedAt: a.CreatedAt}))
	must(t, "confirm "+a.ID, s.ConfirmTOTP(ctx(t), a, backupHashes, t0))
}

func remaining(t *testing.T, s auth.Store, userID string) int {
	t.Helper()
	n, err := s.BackupCodesRemaining(ctx(t), userID)
	must(t, "backup codes remaining", err)
	return n
}

func authenticatorIDs(t *testing.T, s auth.Store, userID string) []string {
	t.Helper()
	as, err := s.TOTPAuthenticators(ctx(t), userID)
	must(t, "list authenticators", err)
	ids := []string{}
	for _, a := range as {
		ids = append(ids, a.ID)
	}
	return ids
}
