package server_test

import (
	"testing"

	"github.com/twofold-auth/twofold/internal/password"
)

// BenchmarkLogin is one whole password login over HTTP at the production
// argon2id parameters (t=2, m=19 MiB, p=1): decode, limits, user lookup,
// hash, session insert, event, cookie.
func BenchmarkLogin(b *testing.B) {
	e := newEnv(b, func(o *options) { o.auth.Hasher = password.New(password.DefaultParams, 0) })
	e.register("bench@example.com", pw)
	c := e.client()
	body := map[string]string{"email": "bench@example.com", "password": pw}
	b.ResetTimer()
	for b.Loop() {
		if r := c.do("POST", "/api/login", body); r.Status != 200 {
			b.Fatalf("login: %d", r.Status)
		}
	}
}
