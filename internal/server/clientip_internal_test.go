package server

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestForwardedFor(t *testing.T) {
	lb := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	for _, tc := range []struct {
		name    string
		remote  string
		xff     []string
		trusted []netip.Prefix
		want    string
	}{
		{"no proxies: header ignored", "203.0.113.7:4000", []string{"198.51.100.1"}, nil, "203.0.113.7"},
		{"untrusted peer: header ignored", "203.0.113.7:4000", []string{"198.51.100.1"}, lb, "203.0.113.7"},
		{"trusted peer: client from header", "10.1.2.3:4000", []string{"198.51.100.1"}, lb, "198.51.100.1"},
		{"spoofed left entries skipped", "10.1.2.3:4000", []string{"1.2.3.4, 198.51.100.1"}, lb, "198.51.100.1"},
		{"chain of trusted proxies", "10.1.2.3:4000", []string{"198.51.100.1, 10.9.9.9"}, lb, "198.51.100.1"},
		{"several header lines", "10.1.2.3:4000", []string{"1.2.3.4", "198.51.100.1,10.0.0.5"}, lb, "198.51.100.1"},
		{"no header from trusted peer", "10.1.2.3:4000", nil, lb, "10.1.2.3"},
		{"all hops trusted", "10.1.2.3:4000", []string{"10.0.0.9"}, lb, "10.0.0.9"},
		{"garbage stops at last trusted hop", "10.1.2.3:4000", []string{"198.51.100.1, not-an-ip"}, lb, "10.1.2.3"},
		{"ipv6 client", "[fd00::1]:4000", []string{"2001:db8::5"}, lb, "2001:db8::5"},
		{"ipv4-mapped peer", "[::ffff:10.1.2.3]:4000", []string{"198.51.100.1"}, lb, "198.51.100.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.remote
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := forwardedFor(r, tc.trusted); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}
