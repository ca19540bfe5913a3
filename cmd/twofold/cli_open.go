package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"

	"github.com/twofold-auth/twofold/internal/auth"
	"github.com/twofold-auth/twofold/internal/config"
	"github.com/twofold-auth/twofold/internal/postgres"
	"github.com/twofold-auth/twofold/internal/seal"
	"github.com/twofold-auth/twofold/internal/sqlite"
)

// The user and events commands act on the server's database with the
// server's keys. Unlike serve and migrate they create nothing: a wrong
// --data-dir must not become a new empty database with a new key, and a
// wrong TWOFOLD_ENCRYPTION_KEY must not seal what the server cannot open.

// openExistingStore opens the configured database, which must exist: it
// creates no data dir and no SQLite file (pending migrations are applied,
// as by the server).
func openExistingStore(ctx context.Context, cfg config.Config) (database, error) {
	if cfg.Database == "postgres" {
		return postgres.Open(ctx, cfg.DatabaseURL, cfg.DBMaxConns)
	}
	if _, err := os.Stat(cfg.SQLitePath); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("no database at %s: give the server's --data-dir (TWOFOLD_DATA_DIR) or --database-url, or run twofold migrate first", cfg.SQLitePath)
		}
		return nil, fmt.Errorf("open database: %w", err)
	}
	db, err := sqlite.Open(ctx, cfg.SQLitePath)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	return db, nil
}

// newCLIService builds the service with the configured keys or the data
// dir's existing key file (never generating one), and checks, without
// writing, that they open what the database holds sealed.
func newCLIService(ctx context.Context, cfg config.Config, db auth.Store, log *slog.Logger) (*auth.Service, error) {
	var ring *seal.Ring
	var reload func() (*seal.Ring, error)
	if keys := cfg.EncryptionKeys; len(keys) > 0 {
		ring = seal.NewRing(keys[0], keys[1:]...)
	} else {
		load := func() (*seal.Ring, error) {
			keys, err := seal.LoadKeyFile(cfg.KeyFile())
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("no encryption key at %s: set TWOFOLD_ENCRYPTION_KEY as the server has it, or give its --data-dir", cfg.KeyFile())
			}
			if err != nil {
				return nil, fmt.Errorf("load encryption key: %w", err)
			}
			return seal.NewRing(keys[0], keys[1:]...), nil
		}
		var err error
		if ring, err = load(); err != nil {
			return nil, err
		}
		reload = load
	}
	svc, err := newServiceWithKeys(cfg, db, log, nil, ring, reload)
	if err != nil {
		return nil, err
	}
	if err := svc.CheckKeysReadOnly(ctx); err != nil {
		return nil, err
	}
	return svc, nil
}
