// Package testdb gives tests a database of the backend they are asked to
// run on: SQLite by default, PostgreSQL with TWOFOLD_TEST_STORE=postgres (CI
// runs the service and HTTP tests once on each).
package testdb

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twofold-auth/twofold/internal/auth"
	"github.com/twofold-auth/twofold/internal/pgtest"
	"github.com/twofold-auth/twofold/internal/postgres"
	"github.com/twofold-auth/twofold/internal/sqlite"
)

// Store is a store the test closes.
type Store interface {
	auth.Store
	Close() error
}

// New returns where a fresh, migrated database is: a SQLite file path, or the
// URL of a throwaway PostgreSQL database dropped when the test ends.
func New(t testing.TB) string {
	t.Helper()
	switch os.Getenv("TWOFOLD_TEST_STORE") {
	case "", "sqlite":
		return SQLitePath(t)
	case "postgres":
		return pgtest.MigratedDatabase(t)
	}
	t.Fatalf("TWOFOLD_TEST_STORE must be sqlite or postgres")
	return ""
}

// SQLitePath is a fresh SQLite file, whatever the backend under test, for
// tests that read the database's bytes.
func SQLitePath(t testing.TB) string {
	return filepath.Join(t.TempDir(), "twofold.db")
}

// Open opens the database at where (from New), closed when the test ends.
func Open(t testing.TB, where string) Store {
	t.Helper()
	var db Store
	var err error
	if strings.HasPrefix(where, "postgres://") {
		db, err = postgres.Open(context.Background(), where, 10)
	} else {
		db, err = sqlite.Open(context.Background(), where)
	}
	if err != nil {
		t.Fatalf("open db: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
