// Command twofold is a self-hosted two-factor authentication server.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// usageError is a mistake in how twofold was called: exit code 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// exitCode prints err (one line) and maps it to the process exit code:
// 0 ok, 1 failure, 2 usage or a bad setting.
func exitCode(err error, stderr io.Writer) int {
	if err == nil || errors.Is(err, errHelp) {
		return 0
	}
	fmt.Fprintln(stderr, "twofold:", err)
	var ue usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

const usage = `twofold is a self-hosted two-factor authentication server.

Usage:
  twofold serve [flags]     run the server (flags: twofold serve --help)
  twofold migrate [flags]   apply database migrations and exit
  twofold keys generate     print a new encryption key
  twofold keys rotate       re-seal every secret under a new key
  twofold user add|list|reset-2fa|unlock|import
                            manage users (twofold user --help)
  twofold events [--user EMAIL] [--type T] [--limit N]
                            print the audit trail

Every flag is also an environment variable: --lockout-threshold is TWOFOLD_LOCKOUT_THRESHOLD.
`

var errHelp = errors.New("help shown")

// run is the whole program; main only wires it to the process.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usageError{"no command given"}
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		return serve(ctx, rest, getenv, stdout, stderr)
	case "migrate":
		return migrate(ctx, rest, getenv, stdout, stderr)
	case "keys":
		return keys(ctx, rest, getenv, stdout, stderr)
	case "user":
		return user(ctx, rest, getenv, stdout, stderr)
	case "events":
		return events(ctx, rest, getenv, stdout, stderr)
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return usageError{fmt.Sprintf("unknown command %q", cmd)}
	}
}
