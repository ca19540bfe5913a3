package auth_test

import (
	"testing"
	"time"

	"github.com/twofold-auth/twofold/internal/auth"
	"github.com/twofold-auth/twofold/internal/totp"
)

func TestResumeTOTPSetup(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	s, _ := newService(t, auth.Options{Now: func() time.Time { return now }})
	ctx, c := t.Context(), auth.Client{IP: "192.0.2.1"}
	reg, err := s.Register(ctx, c, "resume@example.com", "the right password")
	if err != nil {
		t.Fatal(err)
	}
	sess, u, err := s.Authenticate(ctx, reg.Token)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("NothingPending", func(t *testing.T) {
		if _, err := s.ResumeTOTPSetup(ctx, sess, u); auth.ErrorCode(err) != auth.CodeInvalidRequest {
			t.Fatalf("got %v, want invalid_request", err)
		}
	})

	setup, err := s.SetupTOTP(ctx, sess, u, "Phone")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("ShowsTheSameSecret", func(t *testing.T) {
		again, err := s.ResumeTOTPSetup(ctx, sess, u)
		if err != nil {
			t.Fatal(err)
		}
		if again.ManualKey != setup.ManualKey || again.URI != setup.URI || again.QRCode != setup.QRCode {
			t.Fatal("resumed setup differs from the one started")
		}
	})
	t.Run("NeedsRecentAuthentication", func(t *testing.T) {
		stale := sess
		stale.AuthAt = now.Add(-auth.RecentAuthWindow - time.Second)
		if _, err := s.ResumeTOTPSetup(ctx, stale, u); auth.ErrorCode(err) != auth.CodeReauthRequired {
			t.Fatalf("got %v, want reauthentication_required", err)
		}
	})
	t.Run("GoneOnceConfirmed", func(t *testing.T) {
		secret, err := totp.DecodeSecret(setup.ManualKey)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.ConfirmTOTP(ctx, c, sess, u, totp.Code(secret, now, totp.Default)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ResumeTOTPSetup(ctx, sess, u); auth.ErrorCode(err) != auth.CodeInvalidRequest {
			t.Fatalf("got %v, want invalid_request", err)
		}
	})
}
