//go:build !linux

package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"
)

// isTerminal reports whether f looks like a terminal.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// readHidden reads a line from the terminal f. Only Linux turns echo off;
// elsewhere, pipe the password in instead.
func readHidden(_ context.Context, f *os.File) (string, error) {
	fmt.Fprint(os.Stderr, "(echo is on) ")
	s, err := bufio.NewReader(f).ReadString('\n')
	return strings.TrimRight(s, "\r\n"), err
}
