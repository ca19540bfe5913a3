package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/twofold-auth/twofold/internal/auth"
	"github.com/twofold-auth/twofold/internal/postgres"
	"github.com/twofold-auth/twofold/internal/storetest"
)

const defaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// shared is what the tests of this binary share: one admin pool on the
// server under test and a migrated database to copy stores from.
var shared struct {
	once  sync.Once
	url   string
	err   error
	admin *pgxpool.Pool

	templateOnce sync.Once
	template     string
	templateErr  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.admin != nil {
		if shared.template != "" {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			_, err := shared.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{shared.template}.Sanitize()+" WITH (FORCE)")
			cancel()
			if err != nil {
				fmt.Fprintf(os.Stderr, "drop template database: %v\n", err)
			}
		}
		shared.admin.Close()
	}
	os.Exit(code)
}

// baseURL returns the server to test against, skipping the test when it does
// not answer within 3s (failing instead when CI=true).
func baseURL(t *testing.T) string {
	t.Helper()
	shared.once.Do(func() {
		shared.url = os.Getenv("TWOFOLD_TEST_POSTGRES_URL")
		if shared.url == "" {
			shared.url = defaultURL
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		cfg, err := pgxpool.ParseConfig(shared.url)
		if err != nil {
			shared.err = err
			return
		}
		cfg.MaxConns = 2
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err == nil {
			if err = pool.Ping(ctx); err != nil {
				pool.Close()
			}
		}
		if err != nil {
			shared.err = err
			return
		}
		shared.admin = pool
	})
	if shared.err != nil {
		msg := "PostgreSQL not reachable at " + displayURL(shared.url) + ": set TWOFOLD_TEST_POSTGRES_URL (" + shared.err.Error() + ")"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return shared.url
}

// displayURL is u without its password.
func displayURL(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.User == nil {
		if err != nil {
			return "(unparsable URL)"
		}
		return u
	}
	p.User = url.User(p.User.Username())
	return p.String()
}

// withDatabase returns base pointing at database name instead.
func withDatabase(t *testing.T, base, name string) string {
	t.Helper()
	if strings.HasPrefix(base, "postgres://") || strings.HasPrefix(base, "postgresql://") {
		p, err := url.Parse(base)
		if err != nil {
			t.Fatalf("parse %s: %v", displayURL(base), err)
		}
		p.Path = "/" + name
		return p.String()
	}
	return base + " dbname=" + name // keyword/value form: the last setting wins
}

func admin(t *testing.T, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := shared.admin.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func randomName(prefix string) string {
	var b [8]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// emptyDatabase creates an empty database, dropped when the test ends, and
// returns its URL.
func emptyDatabase(t *testing.T) string {
	return createDatabase(t, "")
}

// migratedDatabase creates a database with every migration applied, dropped
// when the test ends, and returns its URL. It is a copy of a template
// database migrated once, which is much faster than migrating each one.
func migratedDatabase(t *testing.T) string {
	t.Helper()
	base := baseURL(t)
	shared.templateOnce.Do(func() {
		name := randomName("twofold_test_template_")
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := shared.admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
			shared.templateErr = err
			return
		}
		shared.template = name
		db, err := postgres.Open(ctx, withDatabase(t, base, name), 1)
		if err != nil {
			shared.templateErr = err
			return
		}
		db.Close()
	})
	if shared.templateErr != nil {
		t.Fatalf("create template database: %v", shared.templateErr)
	}
	return createDatabase(t, shared.template)
}

func createDatabase(t *testing.T, template string) string {
	t.Helper()
	base := baseURL(t)
	name := randomName("twofold_test_")
	ident := pgx.Identifier{name}.Sanitize()
	q := "CREATE DATABASE " + ident
	if template != "" {
		q += " TEMPLATE " + pgx.Identifier{template}.Sanitize()
	}
	admin(t, q)
	t.Cleanup(func() { admin(t, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)") })
	return withDatabase(t, base, name)
}

func open(t *testing.T) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(t.Context(), migratedDatabase(t), 25)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestConformance(t *testing.T) {
	baseURL(t)
	storetest.Run(t, func(t *testing.T) auth.Store { return open(t) })
}

func TestMigrateFromVersion1KeepsData(t *testing.T) {
	ctx := t.Context()
	db, err := postgres.OpenNoMigrate(ctx, emptyDatabase(t), 4)
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
	latest, err := db.Version(ctx)
	if err != nil || latest < 2 {
		t.Fatalf("version after migrating: got %d, %v; want the latest (at least 2)", latest, err)
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
	if v, err := db.Version(ctx); err != nil || v != latest {
		t.Fatalf("version after migrating again: got %d, %v; want %d", v, err, latest)
	}
}

func TestConcurrentOpenMigratesOnce(t *testing.T) {
	for round := range 3 {
		url := emptyDatabase(t)
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
		if want := latestMigration(t); err != nil || v != want {
			t.Errorf("round %d: version: got %d, %v; want %d", round, v, err, want)
		}
	}
}

// latestMigration is the highest version among the migration files.
func latestMigration(t *testing.T) int {
	t.Helper()
	files, err := os.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	latest := 0
	for _, f := range files {
		v, err := strconv.Atoi(strings.SplitN(f.Name(), "_", 2)[0])
		if err != nil {
			t.Fatalf("migration %s: bad name", f.Name())
		}
		latest = max(latest, v)
	}
	return latest
}

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
	url := migratedDatabase(t)
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
	admin(t, "DROP DATABASE "+pgx.Identifier{p.Database}.Sanitize()+" WITH (FORCE)")
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
