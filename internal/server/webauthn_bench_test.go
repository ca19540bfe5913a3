package server_test

import (
	"testing"

	"github.com/descope/virtualwebauthn"
)

// BenchmarkPasskeyLogin is one whole passkey login over HTTP: start (a
// challenge stored), then complete (challenge taken, user and credentials
// looked up, attempt counted, ES256 signature verified, counter written
// back, session created, events).
func BenchmarkPasskeyLogin(b *testing.B) {
	e := newEnv(b)
	c := e.register("bench@example.com", pw)
	k := newVKey(b, virtualwebauthn.AuthenticatorOptions{})
	if r := k.register(c, "Key"); r.Status != 200 {
		b.Fatalf("register: %d", r.Status)
	}
	b.ResetTimer()
	for b.Loop() {
		if r := k.login(e.client(), nil); r.Status != 200 {
			b.Fatalf("passkey login: %d %s", r.Status, r.Raw)
		}
	}
}
