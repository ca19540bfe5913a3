package password_test

import (
	"context"
	"testing"

	"github.com/twofold-auth/twofold/internal/password"
)

// BenchmarkHashDefault measures one argon2id hash at DefaultParams: how long one login takes.
func BenchmarkHashDefault(b *testing.B) {
	h := password.New(password.DefaultParams, 1)
	ctx := context.Background()
	for b.Loop() {
		if _, err := h.Hash(ctx, pw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyDefault(b *testing.B) {
	h := password.New(password.DefaultParams, 1)
	ctx := context.Background()
	phc, err := h.Hash(ctx, pw)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if ok, _, err := h.Verify(ctx, pw, phc); err != nil || !ok {
			b.Fatalf("Verify = %v, %v; want true, nil", ok, err)
		}
	}
}

// BenchmarkVerifyParallel measures logins arriving from many goroutines with maxInFlight = GOMAXPROCS.
func BenchmarkVerifyParallel(b *testing.B) {
	h := password.New(password.DefaultParams, 0)
	ctx := context.Background()
	phc, err := h.Hash(ctx, pw)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	b.RunParallel(func(p *testing.PB) {
		for p.Next() {
			if ok, _, err := h.Verify(ctx, pw, phc); err != nil || !ok {
				b.Errorf("Verify = %v, %v; want true, nil", ok, err)
				return
			}
		}
	})
}
