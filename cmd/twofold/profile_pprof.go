//go:build pprof

package main

import (
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"sync"
	"syscall"
)

// startProfile writes a CPU profile of serve to the file named by
// TWOFOLD_CPU_PROFILE until the server stops, and when it stops the
// contention (mutex) and blocking profiles of the same span to that name
// with .mutex and .block appended: where goroutines waited rather than
// ran, which a CPU profile cannot show. Only in binaries built with
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
			runtime.SetMutexProfileFraction(5)  // one contention event in 5
			runtime.SetBlockProfileRate(20_000) // one blocking event per 20 µs blocked
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
			for _, name := range []string{"mutex", "block"} {
				if g, err := os.OpenFile(path+"."+name, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600); err == nil {
					_ = pprof.Lookup(name).WriteTo(g, 0)
					g.Close()
				}
			}
		}
		f.Close()
	}
}
