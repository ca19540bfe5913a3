package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/twofold-auth/twofold/internal/auth"
	"github.com/twofold-auth/twofold/internal/sqlite"
)

// benchDB is a store with n users, each with one session and ten unused
// backup codes.
func benchDB(b *testing.B, n int) *sqlite.DB {
	b.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "twofold.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for i := range n {
		id := fmt.Sprintf("u%06d", i)
		if err := db.CreateUser(ctx, auth.User{ID: id, Email: id + "@example.com", PasswordHash: "h", CreatedAt: now}); err != nil {
			b.Fatal(err)
		}
		s := auth.Session{ID: "s" + id, TokenHash: "t" + id, UserID: id, State: auth.StatePending, CreatedAt: now, LastSeenAt: now, AuthAt: now}
		if err := db.CreateSession(ctx, s); err != nil {
			b.Fatal(err)
		}
		codes := make([]string, 10)
		for j := range codes {
			codes[j] = fmt.Sprintf("%s-code-%d", id, j)
		}
		if err := db.ReplaceBackupCodes(ctx, id, codes, now); err != nil {
			b.Fatal(err)
		}
	}
	return db
}

// BenchmarkSessionLookup reads a session by its token hash, as every
// authenticated request does (reader pool, no writer involved).
func BenchmarkSessionLookup(b *testing.B) {
	db := benchDB(b, 1000)
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := db.SessionByTokenHash(ctx, fmt.Sprintf("tu%06d", i%1000)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkSessionAndUser is the read of a TOTP verify: a pending session,
// its user and the user's authenticator app, in one query.
func BenchmarkSessionAndUser(b *testing.B) {
	db := benchDB(b, 1000)
	ctx := context.Background()
	for i := range 1000 {
		id := fmt.Sprintf("u%06d", i)
		p := auth.PendingTOTP{ID: "a" + id, UserID: id, Name: "phone", Secret: "sealed"}
		if err := db.PutPendingTOTP(ctx, p); err != nil {
			b.Fatal(err)
		}
		a := auth.TOTPAuthenticator{ID: "a" + id, UserID: id, Name: "phone", Secret: "sealed", Algorithm: "SHA1", Digits: 6, Period: 30}
		if err := db.ConfirmTOTP(ctx, a, nil, time.Time{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, _, auths, err := db.SessionAndUser(ctx, fmt.Sprintf("tu%06d", i%1000)); err != nil || len(auths) != 1 {
			b.Fatal(err, len(auths))
		}
		i++
	}
}

// BenchmarkSessionLookupParallel is the same from many goroutines.
func BenchmarkSessionLookupParallel(b *testing.B) {
	db := benchDB(b, 1000)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := db.SessionByTokenHash(ctx, fmt.Sprintf("tu%06d", i%1000)); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

// BenchmarkBackupCodeWrong is the store's half of checking a wrong backup
// code: one conditional UPDATE that matches nothing (a durable write
// transaction, so it measures the commit path too).
func BenchmarkBackupCodeWrong(b *testing.B) {
	db := benchDB(b, 100)
	ctx := context.Background()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		ok, err := db.UseBackupCode(ctx, "u000042", "not-a-code", now, nil)
		if err != nil || ok {
			b.Fatalf("wrong code: ok=%v err=%v", ok, err)
		}
	}
}
