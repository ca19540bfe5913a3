//go:build pprof

package main

import (
	"os"
	"runtime/pprof"
)

// startProfile writes a CPU profile of serve to the file named by
// TWOFOLD_CPU_PROFILE until the server stops. Only in binaries built with
// -tags pprof (for docs/performance.md); release builds have no profiler.
func startProfile(getenv func(string) string) func() {
	path := getenv("TWOFOLD_CPU_PROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
