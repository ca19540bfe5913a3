package main

import (
	"os"
	"runtime"
	"runtime/debug"

	"github.com/twofold-auth/twofold/internal/password"
)

// gcSettings is the garbage collector's tuning for serve, unless the
// operator set GOGC or GOMEMLIMIT (then ok is false and Go's own settings
// stand). A verification allocates a few kilobytes and keeps none, so
// collecting at 5× the live heap instead of 2× takes most of the
// collector's share of the CPU away (about a tenth of a rejected code's
// cost at GOGC=100). The soft memory limit keeps the heap bounded: most
// of what is live is argon2id's memory, one 19 MiB buffer per core that
// the password hasher keeps, and the collector works to stay under 64 MiB
// plus twice that.
func gcSettings(getenv func(string) string, procs int, hashKiB uint32) (percent int, limit int64, ok bool) {
	if getenv("GOGC") != "" || getenv("GOMEMLIMIT") != "" {
		return 0, 0, false
	}
	return 400, 64<<20 + 2*int64(procs)*int64(hashKiB)<<10, true
}

// tuneGC applies gcSettings to this process. It reads the process's own
// environment, which is what the runtime read GOGC and GOMEMLIMIT from.
func tuneGC() {
	if percent, limit, ok := gcSettings(os.Getenv, runtime.GOMAXPROCS(0), password.DefaultParams.MemoryKiB); ok {
		debug.SetGCPercent(percent)
		debug.SetMemoryLimit(limit)
	}
}
