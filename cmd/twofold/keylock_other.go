//go:build !unix

package main

// lockKeyFile is a no-op where flock is unavailable: run one rotation at a time.
func lockKeyFile(string) (func(), error) { return func() {}, nil }
