package auth_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twofold-auth/twofold/internal/auth"
	"github.com/twofold-auth/twofold/internal/ratelimit"
	"github.com/twofold-auth/twofold/internal/totp"
)

// signUpWithApp registers email (password "the right password") from c and
// enrolls an authenticator app named name; it returns the app's secret.
func signUpWithApp(t *testing.T, s *auth.Service, c auth.Client, email, name string) []byte {
	t.Helper()
	reg, err := s.Register(t.Context(), c, email, "the right password")
	if err != nil {
		t.Fatal(err)
	}
	sess, u, err := s.Authenticate(t.Context(), reg.Token)
	if err != nil {
		t.Fatal(err)
	}
	setup, err := s.SetupTOTP(t.Context(), sess, u, name)
	if err != nil {
		t.Fatal(err)
	}
	secret, err := totp.DecodeSecret(setup.ManualKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ConfirmTOTP(t.Context(), c, sess, u, totp.Code(secret, s.Now(), totp.Default)); err != nil {
		t.Fatal(err)
	}
	return secret
}

// TestPendingSessionCannotMakeSensitiveChanges: a session that owes its
// second factor is refused every change that needs recent authentication,
// even though its password success is seconds old (the routes refuse it
// first; this is the service's own line).
func TestPendingSessionCannotMakeSensitiveChanges(t *testing.T) {
	ctx := t.Context()
	s, _ := newService(t, auth.Options{})
	c := auth.Client{IP: "192.0.2.1"}
	signUpWithApp(t, s, c, "ada@example.com", "phone")

	res, err := s.Login(ctx, c, "ada@example.com", "the right password")
	if err != nil || res.Status != "2fa_required" {
		t.Fatalf("login: %v %v", res.Status, err)
	}
	pending, pu, err := s.Authenticate(ctx, res.Token)
	if err != nil || pending.State != auth.StatePending {
		t.Fatalf("authenticate: %v %v", pending.State, err)
	}
	if _, err := s.ChangePassword(ctx, c, pending, pu, "the right password", "a password of the attacker"); auth.ErrorCode(err) != auth.CodeUnauthenticated {
		t.Errorf("ChangePassword from a pending session: %v, want unauthenticated", err)
	}
	if err := s.DisableTwoFactor(ctx, c, pending, pu); auth.ErrorCode(err) != auth.CodeUnauthenticated {
		t.Errorf("DisableTwoFactor from a pending session: %v, want unauthenticated", err)
	}
	if _, err := s.SetupTOTP(ctx, pending, pu, "attacker"); auth.ErrorCode(err) != auth.CodeUnauthenticated {
		t.Errorf("SetupTOTP from a pending session: %v, want unauthenticated", err)
	}
	res, err = s.Login(ctx, c, "ada@example.com", "the right password")
	if err != nil || res.Status != "2fa_required" || !slices.Contains(res.Methods, auth.MethodTOTP) {
		t.Fatalf("after the refused changes, login: %v %v %v; want the old password and the app to stand", res.Status, res.Methods, err)
	}
}

// TestNewEmailRefusesHiddenCharacters: control characters (C1 ones are
// terminal escapes in `twofold user list`), format characters (invisible,
// zero-width, direction-changing: look-alike addresses) and IP-address
// domains are not addresses a new account may have; ordinary and
// international ones are. A lookup (NormalizeEmail) still takes them, so an
// account stored before the rule still signs in.
func TestNewEmailRefusesHiddenCharacters(t *testing.T) {
	for _, bad := range []string{
		"a\u009b2J@example.com", "a\u0085@example.com", "a\u200b@example.com", "a\u200c@example.com",
		"a\u00ad@example.com", "a\u202eb@example.com", "a\u2066b@example.com", "a\ufeff@example.com",
		"a\U000E0041@example.com", "x@[10.0.0.5]", "x@[IPv6:::1]", "x@10.0.0.5",
	} {
		if _, err := auth.NewEmail(bad); auth.ErrorCode(err) != auth.CodeInvalidRequest {
			t.Errorf("NewEmail(%q) = %v, want invalid_request", bad, err)
		}
	}
	if got, err := auth.NormalizeEmail("a\u200b@example.com"); err != nil || got != "a\u200b@example.com" {
		t.Errorf("a lookup of an address stored before the rule: %q, %v; want it as it is", got, err)
	}
	for in, want := range map[string]string{
		" Ada@Example.com ":   "ada@example.com",
		"josé@example.com":    "josé@example.com",
		"alice@bücher.de":     "alice@bücher.de",
		"first.last+tag@a.io": "first.last+tag@a.io",
		"admin@localhost":     "admin@localhost",
	} {
		if got, err := auth.NewEmail(in); err != nil || got != want {
			t.Errorf("NewEmail(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	s, _ := newService(t, auth.Options{})
	if _, err := s.Register(t.Context(), auth.Client{IP: "192.0.2.1"}, "a\u202eb@example.com", "the right password"); auth.ErrorCode(err) != auth.CodeInvalidRequest {
		t.Errorf("sign-up with a direction-changing character: %v, want invalid_request", err)
	}
}

// TestVerifyLimitCountsAnIPv6ClientByItsPrefix: the second-factor limit
// counts the /64, like every per-IP limit.
func TestVerifyLimitCountsAnIPv6ClientByItsPrefix(t *testing.T) {
	s, _ := newService(t, auth.Options{VerifyRate: ratelimit.Rate{N: 3, Per: time.Hour}, LockoutThreshold: 100})
	c := auth.Client{IP: "192.0.2.1"}
	signUpWithApp(t, s, c, "ada@example.com", "phone")
	res, err := s.Login(t.Context(), c, "ada@example.com", "the right password")
	if err != nil {
		t.Fatal(err)
	}
	sess, u, err := s.Authenticate(t.Context(), res.Token)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		ip := auth.Client{IP: fmt.Sprintf("2001:db8:5:6::%x", i+1)}
		if _, err := s.VerifySecondFactor(t.Context(), ip, sess, u, auth.MethodTOTP, "000000"); auth.ErrorCode(err) != auth.CodeInvalidCode && auth.ErrorCode(err) != auth.CodeRateLimited {
			t.Fatalf("attempt %d: %v", i+1, err)
		}
	}
	if _, err := s.VerifySecondFactor(t.Context(), auth.Client{IP: "2001:db8:5:6:ffff::1"}, sess, u, auth.MethodTOTP, "000000"); auth.ErrorCode(err) != auth.CodeRateLimited {
		t.Fatalf("a 4th attempt from another address of the /64: %v, want rate_limited", err)
	}
}
