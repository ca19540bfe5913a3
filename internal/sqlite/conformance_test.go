package sqlite_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/twofold-auth/twofold/internal/auth"
	"github.com/twofold-auth/twofold/internal/sqlite"
	"github.com/twofold-auth/twofold/internal/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) auth.Store {
		db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "twofold.db"))
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}

func TestMigrateFromVersion1KeepsData(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "twofold.db")
	db, err := sqlite.OpenNoMigrate(path)
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
