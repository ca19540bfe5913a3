package auth_test

import (
	"crypto/rand"
	"testing"
	"time"

	"github.com/twofold-auth/twofold/internal/auth"
	"github.com/twofold-auth/twofold/internal/totp"
)

// importedService is a service at *now (TOTP skew as given) holding one
// user, imported@example.com, imported with these TOTP secrets.
func importedService(t *testing.T, now *time.Time, skew int, secrets ...[]byte) *auth.Service {
	t.Helper()
	s, h := newService(t, auth.Options{Now: func() time.Time { return *now }, TOTPSkew: skew})
	pw, err := h.Hash(t.Context(), "the right password")
	if err != nil {
		t.Fatal(err)
	}
	ok, err := s.ImportUsers(t.Context(), auth.Client{IP: "192.0.2.9"}, []auth.ImportUser{{
		Email: "imported@example.com", PasswordHash: pw, TOTPSecrets: secrets,
	}})
	if err != nil || len(ok) != 1 || !ok[0] {
		t.Fatalf("import: %v %v", ok, err)
	}
	return s
}

// signInWithCode logs the imported user in from ip and sends code; the
// error is VerifySecondFactor's.
func signInWithCode(t *testing.T, s *auth.Service, ip, code string) error {
	t.Helper()
	c := auth.Client{IP: ip}
	res, err := s.Login(t.Context(), c, "imported@example.com", "the right password")
	if err != nil || res.Status != "2fa_required" {
		t.Fatalf("login: %+v %v", res.Status, err)
	}
	sess, u, err := s.Authenticate(t.Context(), res.Token)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.VerifySecondFactor(t.Context(), c, sess, u, auth.MethodTOTP, code)
	return err
}

func newSecret(t *testing.T) []byte {
	t.Helper()
	b := make([]byte, 20)
	rand.Read(b)
	return b
}

// TestImportedSecretListedTwiceIsOneApp: two apps with one secret would
// each accept the same code once, so one code would sign in twice.
func TestImportedSecretListedTwiceIsOneApp(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 10, 0, time.UTC)
	secret, other := newSecret(t), newSecret(t)
	s := importedService(t, &now, 1, secret, other, secret)

	res, err := s.Login(t.Context(), auth.Client{IP: "192.0.2.1"}, "imported@example.com", "the right password")
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Profile(t.Context(), res.User)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.TOTP) != 2 {
		t.Fatalf("authenticator apps after importing [secret, other, secret]: %d, want 2", len(p.TOTP))
	}

	now = now.Add(time.Minute) // past the steps the import refuses
	code := totp.Code(secret, now, totp.Default)
	if err := signInWithCode(t, s, "192.0.2.1", code); err != nil {
		t.Fatalf("the owner's code: %v", err)
	}
	if err := signInWithCode(t, s, "198.51.100.7", code); auth.ErrorCode(err) != auth.CodeInvalidCode {
		t.Fatalf("the same code again, from another sign-in: %v, want invalid_code (a replay)", err)
	}
}

// TestImportRefusesCodesTheOldSystemMayJustHaveAccepted: the old system
// may have accepted the next step's code (its clock skew allowing) just
// before the import, so the import refuses codes up to max(skew, 1) steps
// ahead of its own; the step after those is accepted.
func TestImportRefusesCodesTheOldSystemMayJustHaveAccepted(t *testing.T) {
	for _, skew := range []int{0, 1, 2} {
		start := time.Date(2026, 3, 1, 12, 0, 10, 0, time.UTC)
		now := start
		secret := newSecret(t)
		s := importedService(t, &now, skew, secret)
		refused := max(skew, 1)
		for ahead := 0; ahead <= refused; ahead++ {
			code := totp.Code(secret, start.Add(time.Duration(ahead)*30*time.Second), totp.Default)
			// Send it while it is current, and (when the skew allows) at once.
			now = start.Add(time.Duration(ahead) * 30 * time.Second)
			if err := signInWithCode(t, s, "198.51.100.7", code); auth.ErrorCode(err) != auth.CodeInvalidCode {
				t.Fatalf("skew %d: the code of %d step(s) after the import's: %v, want invalid_code", skew, ahead, err)
			}
		}
		now = start.Add(time.Duration(refused+1) * 30 * time.Second)
		if err := signInWithCode(t, s, "192.0.2.1", totp.Code(secret, now, totp.Default)); err != nil {
			t.Fatalf("skew %d: the code of %d steps after the import's: %v, want accepted", skew, refused+1, err)
		}
	}
}
