package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"

	"github.com/twofold-auth/twofold/internal/seal"
)

const keysUsage = `Usage:
  twofold keys generate        print a new random encryption key (base64 of 32 bytes)
  twofold keys rotate [flags]  re-seal every secret under the first key (flags: as serve)

With a generated key file (<data dir>/encryption.key), rotate adds a new key
at the top of the file, keeps the old ones readable, and re-seals everything.
With TWOFOLD_ENCRYPTION_KEY, set it to "NEW,OLD" on every instance first, then
run rotate; once it reports 0 left, drop OLD. See docs/operations.md.
`

func keys(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, keysUsage)
		return usageError{"keys needs a subcommand: generate or rotate"}
	}
	switch args[0] {
	case "generate":
		k, err := seal.NewKey(rand.Reader)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, k.Encode())
		return nil
	case "rotate":
		return rotateKeys(ctx, args[1:], getenv, stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, keysUsage)
		return nil
	}
	fmt.Fprint(stderr, keysUsage)
	return usageError{fmt.Sprintf("unknown keys subcommand %q", args[0])}
}

func rotateKeys(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := loadConfig("keys rotate", args, getenv, stderr)
	if err != nil {
		return err
	}
	log := newLogger(stderr, cfg.LogLevel)
	db, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	if len(cfg.EncryptionKeys) == 0 {
		unlock, err := lockKeyFile(cfg.KeyFile())
		if err != nil {
			return err
		}
		defer unlock()
		// Key file: put a new key first; the old ones stay readable.
		old, _, err := seal.LoadOrCreateKeyFile(cfg.KeyFile(), rand.Reader)
		if err != nil {
			return fmt.Errorf("read key file: %w", err)
		}
		k, err := seal.NewKey(rand.Reader)
		if err != nil {
			return err
		}
		if err := seal.WriteKeyFile(cfg.KeyFile(), append([]seal.Key{k}, old...)); err != nil {
			return fmt.Errorf("write key file: %w", err)
		}
		fmt.Fprintf(stdout, "added key %s to %s (older keys stay readable)\n", k.ID(), cfg.KeyFile())
	}
	svc, err := newService(cfg, db, log, nil)
	if err != nil {
		return err
	}
	resealed, remaining, err := svc.RotateKeys(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "re-sealed %d values; %d left under older keys\n", resealed, remaining)
	if remaining > 0 {
		return fmt.Errorf("%d values changed during rotation: run rotate again", remaining)
	}
	return nil
}
