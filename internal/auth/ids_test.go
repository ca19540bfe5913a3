package auth_test

import (
	"testing"

	"github.com/twofold-auth/twofold/internal/auth"
)

func TestIDsOfAnotherFormNameNothing(t *testing.T) {
	svc, _ := newService(t, auth.Options{})
	ctx := t.Context()
	c := auth.Client{IP: "192.0.2.1", UserAgent: "test"}
	reg, err := svc.Register(ctx, c, "ids@example.com", "a long password")
	if err != nil {
		t.Fatal(err)
	}
	sess, u, err := svc.Authenticate(ctx, reg.Token)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"\x00", "\xff\xfe", "", "0123456789ABCDEF0123456789abcdef", "0123456789abcdef0123456789abcde", "0123456789abcdef0123456789abcdef0"} {
		for name, call := range map[string]func() error{
			"RemoveTOTP":               func() error { return svc.RemoveTOTP(ctx, c, sess, u, id) },
			"RemoveSMS":                func() error { return svc.RemoveSMS(ctx, c, sess, u, id) },
			"RemoveWebAuthnCredential": func() error { return svc.RemoveWebAuthnCredential(ctx, c, sess, u, id) },
			"RevokeDevice":             func() error { return svc.RevokeDevice(ctx, c, u, id) },
			"ResetTwoFactor":           func() error { return svc.ResetTwoFactor(ctx, c, id) },
			"Unlock":                   func() error { return svc.Unlock(ctx, c, id) },
		} {
			if code := auth.ErrorCode(call()); code != auth.CodeNotFound {
				t.Errorf("%s(%q): got %q, want not_found", name, id, code)
			}
		}
	}
	if !auth.IsID(u.ID) {
		t.Errorf("a user id made by the service is not IsID: %q", u.ID)
	}
}
