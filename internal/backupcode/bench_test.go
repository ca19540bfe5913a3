package backupcode_test

import (
	"testing"

	"github.com/twofold-auth/twofold/internal/backupcode"
)

// BenchmarkCheck is the CPU part of checking a typed backup code:
// normalising the input and computing its keyed hash (the store then looks
// the hash up and marks it used in one statement; see the sqlite benchmarks).
func BenchmarkCheck(b *testing.B) {
	key := make([]byte, 32)
	b.ReportAllocs()
	for b.Loop() {
		c, ok := backupcode.Normalize(" AbCdE-fGhJk ")
		if !ok {
			b.Fatal("normalize refused a valid code")
		}
		_ = backupcode.Hash(key, c)
	}
}
