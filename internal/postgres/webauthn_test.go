package postgres_test

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/descope/virtualwebauthn"

	"github.com/twofold-auth/twofold/internal/auth"
	"github.com/twofold-auth/twofold/internal/password"
	"github.com/twofold-auth/twofold/internal/seal"
)

// TestWebAuthnServiceOverPostgres runs the WebAuthn ceremonies of package
// auth over this store, including the hostile inputs that PostgreSQL text
// would refuse (NUL bytes, invalid UTF-8): they must be client errors, never
// internal ones.
func TestWebAuthnServiceOverPostgres(t *testing.T) {
	db := open(t)
	k, err := seal.NewKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	s, err := auth.New(db, auth.Options{
		Hasher: password.New(password.Params{Time: 1, MemoryKiB: 1024, Threads: 1, KeyLen: 32, SaltLen: 16}, 0),
		Keys:   seal.NewRing(k), Now: func() time.Time { return now }, PublicURL: "http://localhost:8080",
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, c := t.Context(), auth.Client{IP: "192.0.2.1"}
	reg, err := s.Register(ctx, c, "pg@example.com", "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	sess, u, err := s.Authenticate(ctx, reg.Token)
	if err != nil {
		t.Fatal(err)
	}

	rp := virtualwebauthn.RelyingParty{ID: "localhost", Name: "twofold", Origin: "http://localhost:8080"}
	key := virtualwebauthn.NewAuthenticator()
	cred := newEC2Credential()
	creation, err := s.StartWebAuthnRegistration(ctx, auth.Client{}, sess, u, "Key")
	if err != nil {
		t.Fatalf("start registration: %v", err)
	}
	raw, _ := json.Marshal(creation)
	ao, err := virtualwebauthn.ParseAttestationOptions(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	key.Options.UserHandle = []byte(ao.UserID)
	en, err := s.FinishWebAuthnRegistration(ctx, c, sess, u, []byte(virtualwebauthn.CreateAttestationResponse(rp, key, cred, *ao)))
	if err != nil || len(en.BackupCodes) != 10 {
		t.Fatalf("finish registration: %v (%d backup codes)", err, len(en.BackupCodes))
	}

	assertFor := func(options any, mutate func(map[string]any)) []byte {
		raw, _ := json.Marshal(options)
		o, err := virtualwebauthn.ParseAssertionOptions(string(raw))
		if err != nil {
			t.Fatal(err)
		}
		cred.Counter++
		body := virtualwebauthn.CreateAssertionResponse(rp, key, cred, *o)
		if mutate == nil {
			return []byte(body)
		}
		var m map[string]any
		_ = json.Unmarshal([]byte(body), &m)
		mutate(m["response"].(map[string]any))
		b, _ := json.Marshal(m)
		return b
	}

	t.Run("PasskeyLogin", func(t *testing.T) {
		opts, tok, err := s.StartPasskeyLogin(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.FinishPasskeyLogin(ctx, c, tok, assertFor(opts, nil)); err != nil {
			t.Fatalf("passkey login: %v", err)
		}
		cs, err := db.WebAuthnCredentials(ctx, u.ID)
		if err != nil || len(cs) != 1 || cs[0].SignCount != cred.Counter || !cs[0].LastUsedAt.Equal(now) {
			t.Errorf("after the login: %+v, %v; want count %d and last used now", cs, err, cred.Counter)
		}
	})

	t.Run("HostileInputsAreClientErrors", func(t *testing.T) {
		b64 := base64.RawURLEncoding.EncodeToString
		for name, mutate := range map[string]func(map[string]any){
			"UserHandleNotUTF8": func(r map[string]any) { r["userHandle"] = b64([]byte{0xff, 0xfe}) },
			"UserHandleWithNUL": func(r map[string]any) { r["userHandle"] = b64([]byte("a\x00b")) },
			"ChallengeWithNUL": func(r map[string]any) {
				r["clientDataJSON"] = b64([]byte(`{"type":"webauthn.get","challenge":"\u0000","origin":"http://localhost:8080"}`))
			},
		} {
			t.Run(name, func(t *testing.T) {
				opts, tok, err := s.StartPasskeyLogin(ctx, c)
				if err != nil {
					t.Fatal(err)
				}
				_, err = s.FinishPasskeyLogin(ctx, c, tok, assertFor(opts, mutate))
				if auth.ErrorCode(err) != auth.CodeInvalidCredentials {
					t.Errorf("got %v, want invalid_credentials", err)
				}
			})
		}
	})

	t.Run("RegistrationChallengeWithNUL", func(t *testing.T) {
		creation, err := s.StartWebAuthnRegistration(ctx, auth.Client{}, sess, u, "")
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := json.Marshal(creation)
		ao, _ := virtualwebauthn.ParseAttestationOptions(string(raw))
		var m map[string]any
		_ = json.Unmarshal([]byte(virtualwebauthn.CreateAttestationResponse(rp, key, newEC2Credential(), *ao)), &m)
		m["response"].(map[string]any)["clientDataJSON"] = base64.RawURLEncoding.EncodeToString(
			[]byte(`{"type":"webauthn.create","challenge":"a\u0000","origin":"http://localhost:8080"}`))
		body, _ := json.Marshal(m)
		if _, err := s.FinishWebAuthnRegistration(ctx, c, sess, u, body); auth.ErrorCode(err) != auth.CodeInvalidRequest {
			t.Errorf("got %v, want invalid_request", err)
		}
	})
}

// newEC2Credential is a virtualwebauthn P-256 credential whose COSE key is
// well formed: virtualwebauthn drops leading zero bytes of the coordinates
// (about 1 key in 128), which COSE forbids; a well-formed key's map is 77
// bytes.
func newEC2Credential() virtualwebauthn.Credential {
	for {
		c := virtualwebauthn.NewCredential(virtualwebauthn.KeyTypeEC2)
		if len(c.Key.AttestationData()) == 77 {
			return c
		}
	}
}
