package auth

import "testing"

// The origin is compared as a string (exactOrigin), so the configured one
// must be serialized as a browser serializes origins.
func TestRelyingPartyOriginIsSerializedAsBrowsersDo(t *testing.T) {
	for _, tc := range []struct{ publicURL, rpID, origin string }{
		{"http://localhost:8080", "localhost", "http://localhost:8080"},
		{"https://Auth.Example.COM/", "auth.example.com", "https://auth.example.com"},
		{"HTTPS://auth.example.com:443/twofold", "auth.example.com", "https://auth.example.com"},
		{"http://auth.example.com:80", "auth.example.com", "http://auth.example.com"},
		{"http://auth.example.com:443", "auth.example.com", "http://auth.example.com:443"},
	} {
		wa, err := newRelyingParty(tc.publicURL, "twofold")
		if err != nil {
			t.Fatalf("%s: %v", tc.publicURL, err)
		}
		if wa.Config.RPID != tc.rpID || len(wa.Config.RPOrigins) != 1 || wa.Config.RPOrigins[0] != tc.origin {
			t.Errorf("%s: got RP ID %q origins %q, want %q and [%q]", tc.publicURL, wa.Config.RPID, wa.Config.RPOrigins, tc.rpID, tc.origin)
		}
	}
}
