// Package pgtest gives tests throwaway PostgreSQL databases on the server
// named by TWOFOLD_TEST_POSTGRES_URL (default: the local trust-auth server).
// Tests that use it skip with a clear message when PostgreSQL does not
// answer, and fail instead when CI=true: CI must never skip them.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/twofold-auth/twofold/internal/postgres"
)

// DefaultURL is the server tests use when TWOFOLD_TEST_POSTGRES_URL is unset.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// shared is what the tests of one test binary share: an admin pool on the
// server and a migrated database to copy others from.
var shared struct {
	once  sync.Once
	url   string
	err   error
	admin *pgxpool.Pool

	templateOnce sync.Once
	template     string
	templateErr  error
}

// Run runs the tests, then drops the template database and closes the admin
// pool, and returns the exit code. Call it from TestMain.
func Run(m *testing.M) int {
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
	return code
}

// URL returns the server to test against, skipping the test when it does not
// answer within 3s (failing instead when CI=true).
func URL(t testing.TB) string {
	t.Helper()
	shared.once.Do(func() {
		shared.url = os.Getenv("TWOFOLD_TEST_POSTGRES_URL")
		if shared.url == "" {
			shared.url = DefaultURL
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
		msg := "PostgreSQL not reachable at " + DisplayURL(shared.url) + ": set TWOFOLD_TEST_POSTGRES_URL (" + shared.err.Error() + ")"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return shared.url
}

// DisplayURL is u without its password.
func DisplayURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL)"
	}
	if p.User != nil {
		p.User = url.User(p.User.Username())
	}
	return p.String()
}

// WithDatabase returns base pointing at database name instead.
func WithDatabase(t testing.TB, base, name string) string {
	t.Helper()
	if strings.HasPrefix(base, "postgres://") || strings.HasPrefix(base, "postgresql://") {
		p, err := url.Parse(base)
		if err != nil {
			t.Fatalf("parse %s: %v", DisplayURL(base), err)
		}
		p.Path = "/" + name
		return p.String()
	}
	return base + " dbname=" + name // keyword/value form: the last setting wins
}

// Exec runs sql as the admin connection, failing the test on error.
func Exec(t testing.TB, sql string) {
	t.Helper()
	URL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := shared.admin.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func randomName(prefix string) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// EmptyDatabase creates an empty database, dropped when the test ends, and
// returns its URL.
func EmptyDatabase(t testing.TB) string {
	t.Helper()
	return createDatabase(t, "")
}

// MigratedDatabase creates a database with every migration applied, dropped
// when the test ends, and returns its URL. It is a copy of a template
// database migrated once, which is much faster than migrating each one.
func MigratedDatabase(t testing.TB) string {
	t.Helper()
	base := URL(t)
	shared.templateOnce.Do(func() {
		name := randomName("twofold_test_template_")
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := shared.admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
			shared.templateErr = err
			return
		}
		shared.template = name
		db, err := postgres.Open(ctx, WithDatabase(t, base, name), 1)
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

func createDatabase(t testing.TB, template string) string {
	t.Helper()
	base := URL(t)
	name := randomName("twofold_test_")
	ident := pgx.Identifier{name}.Sanitize()
	q := "CREATE DATABASE " + ident
	if template != "" {
		q += " TEMPLATE " + pgx.Identifier{template}.Sanitize()
	}
	Exec(t, q)
	t.Cleanup(func() { Exec(t, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)") })
	return WithDatabase(t, base, name)
}
