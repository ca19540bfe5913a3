package config_test

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/twofold-auth/twofold/internal/config"
	"github.com/twofold-auth/twofold/internal/ratelimit"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	c, err := config.Parse("serve", nil, env(nil), io.Discard)
	if err != nil {
		t.Fatalf("defaults do not parse: %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"addr", c.Addr, "localhost:8080"},
		{"data dir", c.DataDir, "./data"},
		{"database", c.Database, "sqlite"},
		{"sqlite path", c.SQLitePath, "data/twofold.db"},
		{"origin", c.Origin(), "http://localhost:8080"},
		{"secure", c.Secure(), false},
		{"issuer", c.Issuer, "twofold"},
		{"keys", len(c.EncryptionKeys), 0},
		{"admin token", c.AdminToken, ""},
		{"registration closed", c.RegistrationClosed, false},
		{"skew", c.TOTPSkew, 1},
		{"threshold", c.LockoutThreshold, 5},
		{"lockout", c.LockoutDuration, 15 * time.Minute},
		{"verify rate", c.VerifyRateLimit, ratelimit.Rate{N: 5, Per: time.Minute}},
		{"auth rate", c.AuthRateLimit, ratelimit.Rate{N: 100, Per: time.Hour}},
		{"device ttl", c.TrustedDeviceTTL, 720 * time.Hour},
		{"sms", c.SMSProvider, "outbox"},
		{"smtp from", c.SMTPFrom, "<twofold@localhost>"},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s: got %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

func TestFlagWinsOverEnv(t *testing.T) {
	c, err := config.Parse("serve", []string{"--lockout-threshold", "3", "--public-url", "https://auth.example.com"},
		env(map[string]string{"TWOFOLD_LOCKOUT_THRESHOLD": "zero", "TWOFOLD_PUBLIC_URL": "http://x", "TWOFOLD_TOTP_SKEW": "2"}), io.Discard)
	if err != nil {
		t.Fatalf("got %v, want the flag to override the bad env value", err)
	}
	if c.LockoutThreshold != 3 || c.Origin() != "https://auth.example.com" || !c.Secure() || c.TOTPSkew != 2 {
		t.Errorf("got threshold %d origin %s secure %v skew %d", c.LockoutThreshold, c.Origin(), c.Secure(), c.TOTPSkew)
	}
}

func TestValues(t *testing.T) {
	good := map[string]string{
		"TWOFOLD_TRUSTED_DEVICE_TTL": "0",
		"TWOFOLD_VERIFY_RATE_LIMIT":  "0",
		"TWOFOLD_DATABASE_URL":       "postgres://localhost/test",
		"TWOFOLD_ENCRYPTION_KEY":     "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=,HyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4=",
		"TWOFOLD_REGISTRATION":       "closed",
		"TWOFOLD_SMTP_URL":           "smtps://u:p@mail.example.com:465",
	}
	c, err := config.Parse("serve", nil, env(good), io.Discard)
	if err != nil {
		t.Fatalf("valid values refused: %v", err)
	}
	if c.TrustedDeviceTTL != 0 || !c.VerifyRateLimit.Off() || c.Database != "postgres" || len(c.EncryptionKeys) != 2 || !c.RegistrationClosed {
		t.Errorf("values not applied: %+v", c)
	}
	var ce *config.Error
	_, err = config.Parse("serve", nil, env(map[string]string{"TWOFOLD_ENCRYPTION_KEY": "c2VjcmV0LWtleS12YWx1ZQ=="}), io.Discard)
	if !errors.As(err, &ce) || ce.Env != "TWOFOLD_ENCRYPTION_KEY" {
		t.Fatalf("got %v, want a config.Error naming TWOFOLD_ENCRYPTION_KEY", err)
	}
	if strings.Contains(err.Error(), "c2VjcmV0") {
		t.Errorf("the error repeats the key material")
	}
}

func TestTrustedProxies(t *testing.T) {
	c, err := config.Parse("serve", []string{"--trusted-proxies", " 10.0.0.0/8, 192.0.2.1 ,fd00::/8,10.1.2.3/8"}, env(nil), io.Discard)
	if err != nil {
		t.Fatalf("valid proxies refused: %v", err)
	}
	var got []string
	for _, p := range c.TrustedProxies {
		got = append(got, p.String())
	}
	want := "10.0.0.0/8 192.0.2.1/32 fd00::/8 10.0.0.0/8"
	if strings.Join(got, " ") != want {
		t.Errorf("got %v, want %s", got, want)
	}
	if c, _ := config.Parse("serve", nil, env(nil), io.Discard); len(c.TrustedProxies) != 0 {
		t.Errorf("default trusts %v, want no proxy", c.TrustedProxies)
	}
	var ce *config.Error
	_, err = config.Parse("serve", nil, env(map[string]string{"TWOFOLD_TRUSTED_PROXIES": "10.0.0.0/8,lb.internal"}), io.Discard)
	if !errors.As(err, &ce) || ce.Env != "TWOFOLD_TRUSTED_PROXIES" || !strings.Contains(err.Error(), "lb.internal") {
		t.Fatalf("got %v, want a config.Error naming TWOFOLD_TRUSTED_PROXIES and the bad entry", err)
	}
}

func TestSecretsNeverInUsageText(t *testing.T) {
	secrets := map[string]string{
		"TWOFOLD_DATABASE_URL":      "postgres://u:DBPASSWORD@db/x",
		"TWOFOLD_ENCRYPTION_KEY":    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
		"TWOFOLD_ADMIN_TOKEN":       "ADMINTOKEN",
		"TWOFOLD_TWILIO_AUTH_TOKEN": "TWILIOTOKEN",
		"TWOFOLD_SMTP_URL":          "smtp://u:SMTPPASSWORD@mail:25",
		"TWOFOLD_WEBHOOK_SECRET":    "WEBHOOKSECRET",
	}
	for _, args := range [][]string{{"--help"}, {"--no-such-flag"}, {"--lockout-threshold", "x"}} {
		var out strings.Builder
		_, err := config.Parse("serve", args, env(secrets), &out)
		text := out.String()
		if err != nil {
			text += err.Error()
		}
		for k, v := range secrets {
			if strings.Contains(text, v) || strings.Contains(text, "PASSWORD") {
				t.Errorf("%v: the output shows the value of %s", args, k)
			}
		}
	}
	// The values still apply.
	c, err := config.Parse("serve", nil, env(secrets), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.AdminToken != "ADMINTOKEN" || c.WebhookSecret != "WEBHOOKSECRET" || c.TwilioAuthToken != "TWILIOTOKEN" ||
		c.DatabaseURL != secrets["TWOFOLD_DATABASE_URL"] || len(c.EncryptionKeys) != 1 || c.SMTPURL == nil {
		t.Errorf("secret settings from the environment were not applied")
	}
	// A flag still wins over the environment.
	c, err = config.Parse("serve", []string{"--admin-token", "FROMFLAG"}, env(secrets), io.Discard)
	if err != nil || c.AdminToken != "FROMFLAG" {
		t.Errorf("flag did not win over the environment for a secret setting")
	}
}

func TestLockoutThresholdAtMost100(t *testing.T) {
	var ce *config.Error
	_, err := config.Parse("serve", []string{"--lockout-threshold", "101"}, env(nil), io.Discard)
	if !errors.As(err, &ce) || ce.Env != "TWOFOLD_LOCKOUT_THRESHOLD" {
		t.Fatalf("threshold 101: got %v, want a config.Error (NIST SP 800-63B caps it at 100)", err)
	}
	if c, err := config.Parse("serve", []string{"--lockout-threshold", "100"}, env(nil), io.Discard); err != nil || c.LockoutThreshold != 100 {
		t.Errorf("threshold 100 refused: %v", err)
	}
}
