package password_test

import (
	"context"
	"errors"
	"regexp"
	"strconv"
	"testing"

	"github.com/twofold-auth/twofold/internal/password"
)

var (
	argonCost  = regexp.MustCompile(`m=(\d+),t=(\d+)`)
	bcryptCost = regexp.MustCompile(`^\$2[aby]\$(\d\d)\$`)
)

// expensive reports whether phc might carry parameters within Verify's bounds yet too
// costly to run thousands of times a second (the bounds allow 1 GiB and bcrypt cost 16).
// Parameters beyond the bounds are cheap: Verify refuses them before hashing.
func expensive(phc string) bool {
	if m := argonCost.FindStringSubmatch(phc); m != nil {
		mem, err1 := strconv.ParseUint(m[1], 10, 64)
		t, err2 := strconv.ParseUint(m[2], 10, 64)
		return err1 == nil && 4096 < mem && mem <= 1<<20 || err2 == nil && 4 < t && t <= 100
	}
	if m := bcryptCost.FindStringSubmatch(phc); m != nil {
		return "06" < m[1] && m[1] <= "16"
	}
	return false
}

func FuzzVerify(f *testing.F) {
	h := password.New(password.Params{Time: 1, MemoryKiB: 8, Threads: 1, KeyLen: 16, SaltLen: 8}, 0)
	for _, s := range []string{
		"",
		"$",
		"$argon2id$",
		"$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5aw",
		"$argon2id$v=19$m=8,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA",
		"$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U",
		"$argon2id$v=19$m=64,t=1,p=0$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5aw",
		"$argon2id$v=19$m=4294967295,t=4294967295,p=255$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5aw",
		"$argon2id$v=19$m=64,t=1,p=1,keyid=abc$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5aw",
		"$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5aw",
		"$2a$04$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234",
		"$2b$04$......................0123456789abcdefghijklmnopqrstu",
		"$2y$31$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234",
		"$2x$04$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, phc string) {
		if expensive(phc) {
			t.Skip("parameters too costly to fuzz")
		}
		ok, rehash, err := h.Verify(context.Background(), "fuzz", phc)
		if err != nil && !errors.Is(err, password.ErrMalformed) {
			t.Errorf("Verify error = %v, want nil or one wrapping ErrMalformed", err)
		}
		if err != nil && (ok || rehash) {
			t.Errorf("Verify = %v, %v, %v; want false, false with an error", ok, rehash, err)
		}
		if rehash && !ok {
			t.Error("Verify reported needsRehash without a match")
		}
	})
}
