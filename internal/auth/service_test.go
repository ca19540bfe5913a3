package auth_test

import (
	"context"
	"crypto/rand"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twofold-auth/twofold/internal/auth"
	"github.com/twofold-auth/twofold/internal/password"
	"github.com/twofold-auth/twofold/internal/pgtest"
	"github.com/twofold-auth/twofold/internal/seal"
	"github.com/twofold-auth/twofold/internal/testdb"
)

// countingHasher counts full password hash computations.
type countingHasher struct {
	*password.Hasher
	n atomic.Int64
}

func (h *countingHasher) Verify(ctx context.Context, pw, phc string) (bool, bool, error) {
	h.n.Add(1)
	return h.Hasher.Verify(ctx, pw, phc)
}

func (h *countingHasher) CompareDummy(ctx context.Context, pw string) error {
	h.n.Add(1)
	return h.Hasher.CompareDummy(ctx, pw)
}

func newService(t *testing.T, o auth.Options) (*auth.Service, *countingHasher) {
	t.Helper()
	return newServiceOn(t, testdb.Open(t, testdb.New(t)), o)
}

// newServiceOn is newService on store: cheap password hashes, a fresh key.
func newServiceOn(t *testing.T, store auth.Store, o auth.Options) (*auth.Service, *countingHasher) {
	t.Helper()
	h := &countingHasher{Hasher: password.New(password.Params{Time: 1, MemoryKiB: 1024, Threads: 1, KeyLen: 32, SaltLen: 16}, 0)}
	k, _ := seal.NewKey(rand.Reader)
	o.Hasher, o.Keys = h, seal.NewRing(k)
	s, err := auth.New(store, o)
	if err != nil {
		t.Fatal(err)
	}
	return s, h
}

func TestEveryFailedLoginCostsOneHash(t *testing.T) {
	s, h := newService(t, auth.Options{})
	c := auth.Client{IP: "192.0.2.1"}
	if _, err := s.Register(t.Context(), c, "known@example.com", "the right password"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, email, pw string }{
		{"WrongPassword", "known@example.com", "not the password"},
		{"UnknownEmail", "unknown@example.com", "not the password"},
		{"MalformedEmail", "not-an-email", "not the password"},
		{"TooShortPassword", "known@example.com", "short"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := h.n.Load()
			_, err := s.Login(t.Context(), c, tc.email, tc.pw)
			if auth.ErrorCode(err) != auth.CodeInvalidCredentials {
				t.Fatalf("got %v, want invalid_credentials", err)
			}
			if got := h.n.Load() - before; got != 1 {
				t.Errorf("hash computations: got %d, want 1", got)
			}
		})
	}
}

func TestRecentAuthenticationWindow(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	s, _ := newService(t, auth.Options{Now: func() time.Time { return now }})
	sess := auth.Session{AuthAt: now.Add(-auth.RecentAuthWindow)}
	if !s.RecentlyAuthenticated(sess) {
		t.Errorf("exactly 10 minutes old: got stale, want recent")
	}
	sess.AuthAt = sess.AuthAt.Add(-time.Second)
	if s.RecentlyAuthenticated(sess) {
		t.Errorf("10 min 1 s old: got recent, want stale")
	}
}

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }
