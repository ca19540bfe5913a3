//go:build unix

package main

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lockKeyFile takes an exclusive lock beside the key file, so two rotations
// cannot each add a key and lose the other's. The lock file is never renamed
// (the key file is replaced by rename, so it cannot hold the lock itself);
// the kernel drops the lock when the process ends.
func lockKeyFile(keyFile string) (unlock func(), err error) {
	f, err := os.OpenFile(keyFile+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock key file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errors.New("another key rotation is running on this data dir")
		}
		return nil, fmt.Errorf("lock key file: %w", err)
	}
	return func() { f.Close() }, nil
}
