package web

import (
	"testing"
	"time"

	"github.com/twofold-auth/twofold/internal/auth"
)

func TestDeviceNamesBrowserAndSystem(t *testing.T) {
	for ua, want := range map[string]string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36 Edg/131.0":                   "Edge on Windows",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1": "Safari on iPhone",
		"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0":                                                                  "Firefox on Linux",
		"Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36":                                "Chrome on Android",
		"curl/8.5.0":    "curl",
		"":              "unknown browser",
		"some-tool/1.0": "unknown browser",
		// A stranger's words never reach the page (a failed login to
		// someone's account records whatever User-Agent it sent).
		"ACCOUNT SUSPENDED - call +1 555 0100 or visit evil.example/fix": "unknown browser",
		"SuspiciousBot (X11; Linux)":                                     "a browser on Linux",
	} {
		if got := device(ua); got != want {
			t.Errorf("device(%q) = %q, want %q", ua, got, want)
		}
	}
}

func TestEventTextSaysWhichFactor(t *testing.T) {
	for _, c := range []struct {
		e    auth.Event
		want string
	}{
		{auth.Event{Type: auth.Event2FAFailed, Detail: map[string]any{"method": "totp", "purpose": "login"}}, "Wrong second-factor code (authenticator app)"},
		{auth.Event{Type: auth.Event2FASucceeded, Detail: map[string]any{"method": "backup_code", "purpose": "reauthenticate"}}, "Second factor accepted (backup code) to confirm a change"},
		{auth.Event{Type: auth.EventBackupCodeUsed, Detail: map[string]any{"remaining": float64(3)}}, "Backup code used, 3 left"},
		{auth.Event{Type: auth.Event2FASucceeded, Detail: map[string]any{"method": "sms", "purpose": "sms_setup"}}, "Second factor accepted (text message) to confirm a phone number"},
		{auth.Event{Type: auth.EventLoginSucceeded, Detail: map[string]any{"method": "passkey"}}, "Signed in with a passkey"},
		{auth.Event{Type: auth.EventPasswordChanged}, "Password changed"},
		{auth.Event{Type: "something.new"}, "something.new"},
	} {
		if got := eventText(c.e); got != c.want {
			t.Errorf("eventText(%s) = %q, want %q", c.e.Type, got, c.want)
		}
	}
}

func TestRoughly(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Second:             "1 second",
		1500 * time.Millisecond: "2 seconds",
		time.Minute:             "60 seconds",
		90 * time.Second:        "2 minutes",
		15 * time.Minute:        "15 minutes",
		3 * time.Hour:           "3 hours",
	} {
		if got := roughly(d); got != want {
			t.Errorf("roughly(%v) = %q, want %q", d, got, want)
		}
	}
}
