package seal_test

import (
	"bytes"
	"crypto/rand"
	"testing"

	"github.com/twofold-auth/twofold/internal/seal"
)

// seqBytes returns n bytes counting up from start, a deterministic stand-in for randomness.
func seqBytes(start byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = start + byte(i)
	}
	return b
}

// detKey returns a deterministic key derived from seed.
func detKey(tb testing.TB, seed byte) seal.Key {
	tb.Helper()
	k, err := seal.NewKey(bytes.NewReader(seqBytes(seed, 32)))
	if err != nil {
		tb.Fatalf("NewKey: %v", err)
	}
	return k
}

// randKey returns a fresh random key.
func randKey(tb testing.TB) seal.Key {
	tb.Helper()
	k, err := seal.NewKey(rand.Reader)
	if err != nil {
		tb.Fatalf("NewKey: %v", err)
	}
	return k
}
