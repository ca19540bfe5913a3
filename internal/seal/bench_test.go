package seal_test

import (
	"testing"

	"github.com/twofold-auth/twofold/internal/seal"
)

// benchSecret is the size of a typical TOTP secret (160 bits).
var benchSecret = []byte("0123456789abcdefghij")

func BenchmarkSeal(b *testing.B) {
	ring := seal.NewRing(detKey(b, 1))
	ad := []byte("totp:12345")
	b.ReportAllocs()
	b.SetBytes(int64(len(benchSecret)))
	for b.Loop() {
		if _, err := ring.Seal(benchSecret, ad); err != nil {
			b.Fatalf("Seal: %v", err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	ring := seal.NewRing(detKey(b, 1))
	ad := []byte("totp:12345")
	sealed, err := ring.Seal(benchSecret, ad)
	if err != nil {
		b.Fatalf("Seal: %v", err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(benchSecret)))
	for b.Loop() {
		if _, err := ring.Open(sealed, ad); err != nil {
			b.Fatalf("Open: %v", err)
		}
	}
}
