package auth_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/twofold-auth/twofold/internal/auth"
	"github.com/twofold-auth/twofold/internal/ratelimit"
)

// TestIPv6ClientCountsByItsPrefix: an IPv6 client holds a whole /64, so the
// per-IP limits count the /64; another /64, and IPv4 addresses, count on
// their own.
func TestIPv6ClientCountsByItsPrefix(t *testing.T) {
	s, _ := newService(t, auth.Options{AuthRate: ratelimit.Rate{N: 5, Per: time.Hour}})
	try := func(ip string) error {
		_, err := s.Login(t.Context(), auth.Client{IP: ip}, "nobody@example.com", "not the password")
		return err
	}
	for i := range 5 {
		if err := try(fmt.Sprintf("2001:db8:1:2::%x", i+1)); auth.ErrorCode(err) != auth.CodeInvalidCredentials {
			t.Fatalf("attempt %d from the /64: %v, want invalid_credentials", i+1, err)
		}
	}
	if err := try("2001:db8:1:2:ffff:ffff:ffff:ffff"); auth.ErrorCode(err) != auth.CodeRateLimited {
		t.Fatalf("a 6th attempt from another address of the same /64: %v, want rate_limited", err)
	}
	if err := try("2001:db8:1:3::1"); auth.ErrorCode(err) != auth.CodeInvalidCredentials {
		t.Fatalf("an attempt from the next /64: %v, want invalid_credentials (its own count)", err)
	}
	if err := try("192.0.2.7"); auth.ErrorCode(err) != auth.CodeInvalidCredentials {
		t.Fatalf("an attempt from an IPv4 address: %v, want invalid_credentials", err)
	}
}

func TestIPRateKey(t *testing.T) {
	for ip, want := range map[string]string{
		"192.0.2.7":            "ip:192.0.2.7",
		"::ffff:192.0.2.7":     "ip:192.0.2.7",
		"2001:db8:1:2::1":      "ip:2001:db8:1:2::/64",
		"2001:db8:1:2:a:b:c:d": "ip:2001:db8:1:2::/64",
		"fe80::1%eth0":         "ip:fe80::/64",
		"not an address":       "ip:not an address",
		"":                     "ip:",
	} {
		if got := auth.IPRateKey(ip); got != want {
			t.Errorf("IPRateKey(%q) = %q, want %q", ip, got, want)
		}
	}
}
