//go:build !pprof

package main

// startProfile does nothing: profiling needs a binary built with -tags pprof
// (profile_pprof.go).
func startProfile(func(string) string) func() { return func() {} }
