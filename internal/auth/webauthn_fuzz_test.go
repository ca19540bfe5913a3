package auth_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/descope/virtualwebauthn"

	"github.com/twofold-auth/twofold/internal/auth"
	"github.com/twofold-auth/twofold/internal/password"
	"github.com/twofold-auth/twofold/internal/seal"
)

// fuzzChallenge is the challenge of every ceremony the fuzz target opens, so
// that inputs derived from the seeds get past the challenge lookup and into
// the verification of what the browser sent.
var fuzzChallenge = base64.RawURLEncoding.EncodeToString(make([]byte, 32))

// The fuzz target's fixed user, session, ceremony token and key.
const (
	fuzzUserID   = "0000000000000000000000000000f022"
	fuzzCeremony = "fuzz-ceremony-token"
)

var fuzzRP = virtualwebauthn.RelyingParty{ID: "localhost", Name: "twofold", Origin: "http://localhost:8080"}

// fuzzKey is a fixed EC2 key (PKCS#8 of a P-256 key made for this test) so
// that committed seeds carry signatures that verify.
func fuzzKey(t testing.TB) virtualwebauthn.Credential {
	der, err := base64.StdEncoding.DecodeString("MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg7StetS8XEDi75pxldZiMQBgk4ncyyeGdQNxHw7cglDmhRANCAARDL8tpVOh/Ei0Vb3KkXATXUlWpeNAGr9L9JQ7LPGdqIdG+n42ivIFi8OCJo+W842l6PhgTTjNnTjrWsf+/phZW")
	if err != nil {
		t.Fatal(err)
	}
	c := virtualwebauthn.NewCredentialWithImportedKey(virtualwebauthn.KeyTypeEC2, der)
	c.ID = []byte("fuzz-credential-id")
	return c
}

type fuzzEnv struct {
	s    *auth.Service
	db   *memStore
	u    auth.User
	sess auth.Session
}

// newFuzzEnv is a service whose user has the fixed key registered. It runs
// over memStore: the fuzzer instruments every package it builds, and the
// SQLite driver (transpiled C) slows to a crawl under that instrumentation.
func newFuzzEnv(t testing.TB) *fuzzEnv {
	ctx := context.Background()
	db := newMemStore()
	k, _ := seal.NewKey(rand.Reader)
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	s, err := auth.New(db, auth.Options{
		Hasher: password.New(password.Params{Time: 1, MemoryKiB: 1024, Threads: 1, KeyLen: 32, SaltLen: 16}, 0),
		Keys:   seal.NewRing(k), Now: func() time.Time { return now }, LockoutThreshold: 1 << 30,
	})
	if err != nil {
		t.Fatal(err)
	}
	e := &fuzzEnv{s: s, db: db, u: auth.User{ID: fuzzUserID, Email: "fuzz@example.com", PasswordHash: "x", CreatedAt: now}}
	e.sess = auth.Session{ID: "fuzz-session", TokenHash: auth.HashToken("t"), UserID: fuzzUserID, State: auth.StateAuthenticated,
		CreatedAt: now, LastSeenAt: now, AuthAt: now}
	if err := db.CreateUser(ctx, e.u); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateSession(ctx, e.sess); err != nil {
		t.Fatal(err)
	}
	e.open(t)
	if _, err := s.FinishWebAuthnRegistration(ctx, auth.Client{}, e.sess, e.u, []byte(fuzzAttestation(t))); err != nil {
		t.Fatalf("register the fuzz key: %v", err)
	}
	return e
}

// open opens one ceremony of each kind with fuzzChallenge.
func (e *fuzzEnv) open(t testing.TB) {
	exp := time.Date(2026, 11, 26, 12, 5, 0, 0, time.UTC)
	for _, c := range []auth.WebAuthnChallenge{
		{Owner: "session:" + e.sess.ID, Kind: auth.ChallengeRegister, UserID: fuzzUserID, Name: "Key"},
		{Owner: "session:" + e.sess.ID, Kind: auth.ChallengeLogin, UserID: fuzzUserID},
		{Owner: "passkey:" + auth.HashToken(fuzzCeremony), Kind: auth.ChallengePasskey},
	} {
		c.Challenge, c.ExpiresAt = fuzzChallenge, exp
		if err := e.db.PutWebAuthnChallenge(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
}

// fuzzAttestation is a valid RegistrationResponseJSON for the fixed key.
func fuzzAttestation(t testing.TB) string {
	ch, _ := base64.RawURLEncoding.DecodeString(fuzzChallenge)
	a := virtualwebauthn.NewAuthenticatorWithOptions(virtualwebauthn.AuthenticatorOptions{UserHandle: []byte(fuzzUserID)})
	return virtualwebauthn.CreateAttestationResponse(fuzzRP, a, fuzzKey(t), virtualwebauthn.AttestationOptions{
		Challenge: ch, RelyingPartyID: fuzzRP.ID, UserID: fuzzUserID,
	})
}

// fuzzAssertion is a valid AuthenticationResponseJSON for the fixed key.
func fuzzAssertion(t testing.TB, counter uint32) string {
	ch, _ := base64.RawURLEncoding.DecodeString(fuzzChallenge)
	a := virtualwebauthn.NewAuthenticatorWithOptions(virtualwebauthn.AuthenticatorOptions{UserHandle: []byte(fuzzUserID)})
	key := fuzzKey(t)
	key.Counter = counter
	return virtualwebauthn.CreateAssertionResponse(fuzzRP, a, key, virtualwebauthn.AssertionOptions{Challenge: ch, RelyingPartyID: fuzzRP.ID})
}

// FuzzFinishWebAuthn feeds untrusted bodies to the three WebAuthn complete
// steps: none may panic, and every refusal is a client error, never an
// internal one.
func FuzzFinishWebAuthn(f *testing.F) {
	f.Add([]byte(fuzzAttestation(f)))
	f.Add([]byte(fuzzAssertion(f, 7)))
	var generic map[string]any
	_ = json.Unmarshal([]byte(fuzzAssertion(f, 8)), &generic)
	generic["response"].(map[string]any)["authenticatorData"] = "AAAA"
	b, _ := json.Marshal(generic)
	f.Add(b)

	e := newFuzzEnv(f)
	allowed := map[auth.Code]bool{
		auth.CodeInvalidRequest: true, auth.CodeInvalidCredentials: true, auth.CodeUnauthenticated: true,
	}
	check := func(t *testing.T, step string, err error) {
		if err != nil && !allowed[auth.ErrorCode(err)] {
			t.Fatalf("%s: got %v, want a client error", step, err)
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ctx := context.Background()
		e.open(t)
		_, err := e.s.FinishWebAuthnRegistration(ctx, auth.Client{}, e.sess, e.u, body)
		check(t, "register", err)
		_, err = e.s.FinishWebAuthnLogin(ctx, auth.Client{}, e.sess, e.u, body)
		check(t, "login", err)
		_, err = e.s.FinishPasskeyLogin(ctx, auth.Client{}, fuzzCeremony, body)
		check(t, "passkey login", err)
	})
}

// The fuzz seeds reach the end of verification: the valid assertion logs in.
func TestFuzzSeedsVerify(t *testing.T) {
	e := newFuzzEnv(t)
	e.open(t)
	if _, err := e.s.FinishWebAuthnLogin(t.Context(), auth.Client{}, e.sess, e.u, []byte(fuzzAssertion(t, 7))); err != nil {
		t.Fatalf("second-factor login with the seed assertion: %v", err)
	}
	e.open(t)
	if _, err := e.s.FinishPasskeyLogin(t.Context(), auth.Client{}, fuzzCeremony, []byte(fuzzAssertion(t, 8))); err != nil {
		t.Fatalf("passkey login with the seed assertion: %v", err)
	}
}

// memStore holds, in memory, what the WebAuthn complete steps touch; the
// rest of auth.Store is left nil (a call would panic, and fail the fuzz
// target loudly). The real stores' behaviour is the conformance suite's job.
type memStore struct {
	auth.Store
	mu         sync.Mutex
	users      map[string]auth.User
	sessions   map[string]auth.Session
	challenges map[string]auth.WebAuthnChallenge
	creds      []auth.WebAuthnCredential
	settings   map[string]string
	backup     map[string]int
}

func newMemStore() *memStore {
	return &memStore{users: map[string]auth.User{}, sessions: map[string]auth.Session{}, challenges: map[string]auth.WebAuthnChallenge{},
		settings: map[string]string{}, backup: map[string]int{}}
}

func (m *memStore) CreateUser(_ context.Context, u auth.User) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.users[u.ID] = u
	return nil
}

func (m *memStore) UserByID(_ context.Context, id string) (auth.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.users[id]
	if !ok {
		return auth.User{}, auth.ErrNotFound
	}
	return u, nil
}

func (m *memStore) CreateSession(_ context.Context, s auth.Session) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sessions[s.ID] = s
	return nil
}

func (m *memStore) RotateSession(_ context.Context, oldHash string, next auth.Session) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s, ok := m.sessions[next.ID]; !ok || s.TokenHash != oldHash {
		return auth.ErrNotFound
	}
	m.sessions[next.ID] = next
	return nil
}

func (m *memStore) AddEvent(context.Context, auth.Event) error { return nil }

func (m *memStore) ClaimAttempt(_ context.Context, userID string, prev int, prevLockedUntil time.Time, next int, lockedUntil time.Time, _ ...auth.Event) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.users[userID]
	if !ok || u.FailedAttempts != prev || !u.LockedUntil.Equal(prevLockedUntil) {
		return false, nil
	}
	u.FailedAttempts, u.LockedUntil = next, lockedUntil
	m.users[userID] = u
	return true, nil
}

func (m *memStore) ResetAttempts(_ context.Context, userID string, claimed int, claimedLockedUntil time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if u, ok := m.users[userID]; ok && u.FailedAttempts == claimed && u.LockedUntil.Equal(claimedLockedUntil) {
		u.FailedAttempts, u.LockedUntil = 0, time.Time{}
		m.users[userID] = u
	}
	return nil
}

func (m *memStore) TOTPAuthenticators(context.Context, string) ([]auth.TOTPAuthenticator, error) {
	return nil, nil
}

func (m *memStore) BackupCodesRemaining(_ context.Context, userID string) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.backup[userID], nil
}

func (m *memStore) Setting(_ context.Context, name string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.settings[name]
	if !ok {
		return "", auth.ErrNotFound
	}
	return v, nil
}

func (m *memStore) AddSetting(_ context.Context, name, value string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.settings[name]; !ok {
		m.settings[name] = value
	}
	return nil
}

func (m *memStore) PutWebAuthnChallenge(_ context.Context, c auth.WebAuthnChallenge) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.challenges[c.Owner+" "+c.Kind] = c
	return nil
}

func (m *memStore) TakeWebAuthnChallenge(_ context.Context, owner, kind, challenge string, now time.Time) (auth.WebAuthnChallenge, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.challenges[owner+" "+kind]
	if !ok || c.Challenge != challenge || !c.ExpiresAt.After(now) {
		return auth.WebAuthnChallenge{}, auth.ErrNotFound
	}
	delete(m.challenges, owner+" "+kind)
	return c, nil
}

func (m *memStore) DeleteExpiredWebAuthnChallenges(context.Context, time.Time) (int64, error) {
	return 0, nil
}

func (m *memStore) AddWebAuthnCredential(_ context.Context, c auth.WebAuthnCredential, backupHashes []string, _ time.Time, _ int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, x := range m.creds {
		if x.CredentialID == c.CredentialID {
			return auth.ErrDuplicate
		}
	}
	m.creds = append(m.creds, c)
	if backupHashes != nil {
		m.backup[c.UserID] = len(backupHashes)
	}
	return nil
}

func (m *memStore) WebAuthnCredentials(_ context.Context, userID string) ([]auth.WebAuthnCredential, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []auth.WebAuthnCredential
	for _, c := range m.creds {
		if c.UserID == userID {
			out = append(out, c)
		}
	}
	return out, nil
}

func (m *memStore) UseWebAuthnCredential(_ context.Context, id string, signCount uint32, uv, be, bs bool, at time.Time, rotate *auth.SessionRotation) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, c := range m.creds {
		if c.ID == id && c.BackupEligible == be && (c.SignCount < signCount || (c.SignCount == 0 && signCount == 0)) {
			if rotate != nil {
				if s, ok := m.sessions[rotate.Next.ID]; !ok || s.TokenHash != rotate.OldHash {
					return false, auth.ErrSessionRotated
				}
				m.sessions[rotate.Next.ID] = rotate.Next
			}
			m.creds[i].SignCount, m.creds[i].UserVerified, m.creds[i].BackupState, m.creds[i].LastUsedAt = signCount, uv, bs, at
			return true, nil
		}
	}
	return false, nil
}

func (m *memStore) SMSPhones(context.Context, string) ([]auth.SMSPhone, error) { return nil, nil }

func (m *memStore) SeeClient(context.Context, string, string, string, time.Time) (bool, error) {
	return false, nil
}

func (m *memStore) KnownClient(context.Context, string, string, string) (auth.ClientSeen, error) {
	return auth.ClientSeen{Any: true, Network: true, Family: true}, nil
}

// TestKeyRacingARightCodeIsNotRecorded: a security key's assertion for a
// pending session that a right code signed in first (the session rotated
// meanwhile) records nothing: the credential's counter and the session's
// rotation are one write, and the answer is a session that is gone.
func TestKeyRacingARightCodeIsNotRecorded(t *testing.T) {
	e := newFuzzEnv(t)
	e.open(t)
	ctx := t.Context()
	next := e.sess
	next.TokenHash = auth.HashToken("another request's token")
	if err := e.db.RotateSession(ctx, e.sess.TokenHash, next); err != nil {
		t.Fatal(err)
	}
	counter := func() uint32 {
		creds, err := e.db.WebAuthnCredentials(ctx, fuzzUserID)
		if err != nil || len(creds) != 1 {
			t.Fatalf("credentials: %v, %v", creds, err)
		}
		return creds[0].SignCount
	}
	before := counter()
	_, err := e.s.FinishWebAuthnLogin(ctx, auth.Client{}, e.sess, e.u, []byte(fuzzAssertion(t, 7)))
	if auth.ErrorCode(err) != auth.CodeUnauthenticated {
		t.Fatalf("assertion for a rotated session: got %v, want unauthenticated", err)
	}
	if got := counter(); got != before {
		t.Errorf("sign counter: got %d, want %d (unchanged)", got, before)
	}
}
