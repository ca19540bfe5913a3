//go:build pprof

package main

import (
	"os"
	"os/signal"
	"runtime/pprof"
	"sync"
	"syscall"
)

// startProfile writes a CPU profile of serve to the file named by
// TWOFOLD_CPU_PROFILE until the server stops. Only in binaries built with
// -tags pprof (for docs/performance.md); release builds have no profiler.
// With TWOFOLD_CPU_PROFILE_ON=usr1 the profile starts at the first SIGUSR1
// instead (twofold-load -usr1 sends it when its set-up ends, so the
// profile holds the measured phase only).
func startProfile(getenv func(string) string) func() {
	path := getenv("TWOFOLD_CPU_PROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return func() {}
	}
	var mu sync.Mutex
	started := false
	start := func() {
		mu.Lock()
		defer mu.Unlock()
		if !started && pprof.StartCPUProfile(f) == nil {
			started = true
		}
	}
	if getenv("TWOFOLD_CPU_PROFILE_ON") == "usr1" {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGUSR1)
		go func() {
			<-sig
			signal.Stop(sig)
			start()
		}()
	} else {
		start()
	}
	return func() {
		mu.Lock()
		defer mu.Unlock()
		if started {
			pprof.StopCPUProfile()
		}
		f.Close()
	}
}
