package postgres_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/twofold-auth/twofold/internal/auth"
	"github.com/twofold-auth/twofold/internal/pgtest"
	"github.com/twofold-auth/twofold/internal/postgres"
	"github.com/twofold-auth/twofold/internal/storetest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }

func open(t *testing.T) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(t.Context(), pgtest.MigratedDatabase(t), 25)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestConformance(t *testing.T) {
	pgtest.URL(t)
	storetest.Run(t, func(t *testing.T) auth.Store { return open(t) })
}

func TestMigrateFromVersion1KeepsData(t *testing.T) {
	ctx := t.Context()
	db, err := postgres.OpenNoMigrate(ctx, pgtest.EmptyDatabase(t), 4)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer db.Close()
	if err := db.MigrateTo(ctx, 1); err != nil {
		t.Fatalf("migrate to 1: %v", err)
	}
	if v, err := db.Version(ctx); err != nil || v != 1 {
		t.Fatalf("version after migrating to 1: got %d, %v; want 1", v, err)
	}
	created := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	// Version 1 has the users table, which is all CreateUser touches.
	if err := db.CreateUser(ctx, auth.User{ID: "u1", Email: "u1@example.com", PasswordHash: "h", CreatedAt: created}); err != nil {
		t.Fatalf("create user on version 1: %v", err)
	}
	if _, err := db.Setting(ctx, "k"); err == nil || errors.Is(err, auth.ErrNotFound) {
		t.Errorf("setting on version 1: got error %v, want a missing-table error", err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if v, err := db.Version(ctx); err != nil || v != storetest.LatestMigration(t) {
		t.Fatalf("version after migrating: got %d, %v; want %d", v, err, storetest.LatestMigration(t))
	}
	u, err := db.UserByID(ctx, "u1")
	if err != nil {
		t.Fatalf("user after migrating: %v", err)
	}
	if u.Email != "u1@example.com" || !u.CreatedAt.Equal(created) {
		t.Errorf("user after migrating: got %+v", u)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("migrate again: %v", err)
	}
	if v, err := db.Version(ctx); err != nil || v != storetest.LatestMigration(t) {
		t.Fatalf("version after migrating again: got %d, %v; want %d", v, err, storetest.LatestMigration(t))
	}
}

func TestConcurrentOpenMigratesOnce(t *testing.T) {
	for round := range 3 {
		url := pgtest.EmptyDatabase(t)
		const n = 4
		start := make(chan struct{})
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				db, err := postgres.Open(t.Context(), url, 2)
				if err == nil {
					db.Close()
				}
				errs[i] = err
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("round %d: open #%d: %v", round, i, err)
			}
		}
		db, err := postgres.OpenNoMigrate(t.Context(), url, 1)
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		v, err := db.Version(t.Context())
		db.Close()
		if err != nil || v != storetest.LatestMigration(t) {
			t.Errorf("round %d: version: got %d, %v; want %d", round, v, err, storetest.LatestMigration(t))
		}
	}
}

// latestMigration is the highest version among the migration files.
func TestUnreachableIsUnavailable(t *testing.T) {
	// Nothing listens on port 1.
	_, err := postgres.OpenNoMigrate(t.Context(), "postgres://twofold:hunter2@127.0.0.1:1/twofold?sslmode=disable", 2)
	if !errors.Is(err, auth.ErrUnavailable) {
		t.Fatalf("open: got error %v, want auth.ErrUnavailable", err)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error shows the password: %v", err)
	}
	_, err = postgres.Open(t.Context(), "postgres://twofold@127.0.0.1:1/twofold?sslmode=disable", 2)
	if !errors.Is(err, auth.ErrUnavailable) {
		t.Fatalf("open and migrate: got error %v, want auth.ErrUnavailable", err)
	}
}

func TestBadURLIsNotUnavailable(t *testing.T) {
	_, err := postgres.OpenNoMigrate(t.Context(), "postgres://twofold:hunter2@127.0.0.1:5432/x?sslmode=bogus", 2)
	if err == nil || errors.Is(err, auth.ErrUnavailable) {
		t.Fatalf("open: got error %v, want a configuration error", err)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error shows the password: %v", err)
	}
}

func TestClosedPoolIsUnavailable(t *testing.T) {
	db := open(t)
	db.Close()
	if err := db.Ping(t.Context()); !errors.Is(err, auth.ErrUnavailable) {
		t.Errorf("ping after close: got error %v, want auth.ErrUnavailable", err)
	}
	if _, err := db.UserByID(t.Context(), "u1"); !errors.Is(err, auth.ErrUnavailable) {
		t.Errorf("query after close: got error %v, want auth.ErrUnavailable", err)
	}
}

func TestDroppedDatabaseIsUnavailable(t *testing.T) {
	url := pgtest.MigratedDatabase(t)
	db, err := postgres.Open(t.Context(), url, 2)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer db.Close()
	if err := db.Ping(t.Context()); err != nil {
		t.Fatalf("ping: %v", err)
	}
	// Terminates the pool's connections, and new ones find no database.
	p, _ := pgx.ParseConfig(url)
	pgtest.Exec(t, "DROP DATABASE "+pgx.Identifier{p.Database}.Sanitize()+" WITH (FORCE)")
	for i := range 3 {
		if _, err := db.UserByID(t.Context(), "u1"); !errors.Is(err, auth.ErrUnavailable) {
			t.Errorf("query #%d after drop: got error %v, want auth.ErrUnavailable", i, err)
		}
	}
	if err := db.Ping(t.Context()); !errors.Is(err, auth.ErrUnavailable) {
		t.Errorf("ping after drop: got error %v, want auth.ErrUnavailable", err)
	}
}

func TestStoreErrorsWrapSentinels(t *testing.T) {
	db := open(t)
	ctx := t.Context()
	u := auth.User{ID: "u1", Email: "u1@example.com", PasswordHash: "h", CreatedAt: time.Now()}
	if err := db.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	err := db.CreateUser(ctx, u)
	if !errors.Is(err, auth.ErrDuplicate) || !strings.HasPrefix(err.Error(), "create user: ") {
		t.Errorf("duplicate: got %v, want \"create user: \" wrapping auth.ErrDuplicate", err)
	}
	_, err = db.UserByID(ctx, "nope")
	if !errors.Is(err, auth.ErrNotFound) || !strings.HasPrefix(err.Error(), "user by id: ") {
		t.Errorf("not found: got %v, want \"user by id: \" wrapping auth.ErrNotFound", err)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = db.UserByID(canceled, "u1")
	if !errors.Is(err, context.Canceled) || errors.Is(err, auth.ErrUnavailable) {
		t.Errorf("canceled: got %v, want context.Canceled, not unavailable", err)
	}
}
