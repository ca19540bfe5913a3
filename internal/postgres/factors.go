package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/twofold-auth/twofold/internal/auth"
)

// ClaimAttempt implements auth.Factors.
func (db *DB) ClaimAttempt(ctx context.Context, userID string, prev int, prevLockedUntil time.Time, next int, lockedUntil time.Time, events ...auth.Event) (bool, error) {
	const claim = "UPDATE users SET failed_attempts = $1, locked_until = $2 WHERE id = $3 AND failed_attempts = $4 AND locked_until = $5"
	args := []any{next, micros(lockedUntil), userID, prev, micros(prevLockedUntil)}
	if len(events) == 0 {
		tag, err := db.pool.Exec(ctx, claim, args...)
		return changed(tag, err, "claim attempt")
	}
	// One statement: the events are inserted only if the claim changed the
	// row, and a data-modifying WITH runs once, whatever reads it. So the
	// count of inserted events says whether the claim won.
	var ids, types, ips, agents, details []string
	var times []int64
	var users []*string
	for _, e := range events {
		detail, err := json.Marshal(e.Detail)
		if err != nil {
			return false, fmt.Errorf("claim attempt: encode event detail: %w", err)
		}
		var user *string
		if e.UserID != "" {
			user = &e.UserID
		}
		ids, times, types, users = append(ids, e.ID), append(times, micros(e.Time)), append(types, e.Type), append(users, user)
		ips, agents, details = append(ips, text(e.IP)), append(agents, text(e.UserAgent)), append(details, string(detail))
	}
	tag, err := db.pool.Exec(ctx, "WITH claimed AS ("+claim+" RETURNING 1) "+
		"INSERT INTO events (id, time, type, user_id, ip, user_agent, detail) "+
		"SELECT * FROM unnest($6::text[], $7::bigint[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[]) "+
		"WHERE EXISTS (SELECT 1 FROM claimed)",
		append(args, ids, times, types, users, ips, agents, details)...)
	return changed(tag, err, "claim attempt")
}

// ResetAttempts implements auth.Factors.
func (db *DB) ResetAttempts(ctx context.Context, userID string, claimed int, claimedLockedUntil time.Time) error {
	_, err := db.pool.Exec(ctx,
		"UPDATE users SET failed_attempts = 0, locked_until = 0 WHERE id = $1 AND failed_attempts = $2 AND locked_until = $3",
		userID, claimed, micros(claimedLockedUntil))
	if err != nil {
		return fmt.Errorf("reset attempts: %w", classify(err))
	}
	return nil
}

// PutPendingTOTP implements auth.Factors.
func (db *DB) PutPendingTOTP(ctx context.Context, p auth.PendingTOTP) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO totp_pending (user_id, id, name, secret, created_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (user_id) DO UPDATE SET id = excluded.id, name = excluded.name, secret = excluded.secret, created_at = excluded.created_at`,
		p.UserID, p.ID, p.Name, p.Secret, micros(p.CreatedAt))
	if err != nil {
		return fmt.Errorf("put pending totp: %w", classify(err))
	}
	return nil
}

// PendingTOTP implements auth.Factors.
func (db *DB) PendingTOTP(ctx context.Context, userID string) (auth.PendingTOTP, error) {
	p := auth.PendingTOTP{UserID: userID}
	var created int64
	err := db.pool.QueryRow(ctx, "SELECT id, name, secret, created_at FROM totp_pending WHERE user_id = $1", userID).
		Scan(&p.ID, &p.Name, &p.Secret, &created)
	if err != nil {
		return auth.PendingTOTP{}, fmt.Errorf("pending totp: %w", classify(err))
	}
	p.CreatedAt = fromMicros(created)
	return p, nil
}

// ConfirmTOTP implements auth.Factors.
func (db *DB) ConfirmTOTP(ctx context.Context, a auth.TOTPAuthenticator, backupHashes []string, now time.Time) error {
	return db.tx(ctx, "confirm totp", func(tx pgx.Tx) error {
		if err := lockUser(ctx, tx, a.UserID); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, "DELETE FROM totp_pending WHERE user_id = $1 AND id = $2", a.UserID, a.ID)
		if ok, err := changed(tag, err, "delete pending"); err != nil || !ok {
			if err == nil {
				err = auth.ErrNotFound
			}
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO totp_authenticators
			(id, user_id, name, secret, algorithm, digits, period, last_step, created_at, last_used_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			a.ID, a.UserID, a.Name, a.Secret, a.Algorithm, a.Digits, a.Period, a.LastStep, micros(a.CreatedAt), micros(a.LastUsedAt)); err != nil {
			return err
		}
		if backupHashes != nil {
			return replaceBackupCodes(ctx, tx, a.UserID, backupHashes, now)
		}
		return nil
	})
}

// TOTPAuthenticators implements auth.Factors.
func (db *DB) TOTPAuthenticators(ctx context.Context, userID string) ([]auth.TOTPAuthenticator, error) {
	rows, err := db.pool.Query(ctx, `SELECT id, user_id, name, secret, algorithm, digits, period, last_step, created_at, last_used_at
		FROM totp_authenticators WHERE user_id = $1 ORDER BY id`, userID)
	if err != nil {
		return nil, fmt.Errorf("list totp: %w", classify(err))
	}
	defer rows.Close()
	out := []auth.TOTPAuthenticator{}
	for rows.Next() {
		var a auth.TOTPAuthenticator
		var created, used int64
		if err := rows.Scan(&a.ID, &a.UserID, &a.Name, &a.Secret, &a.Algorithm, &a.Digits, &a.Period, &a.LastStep, &created, &used); err != nil {
			return nil, fmt.Errorf("list totp: %w", classify(err))
		}
		a.CreatedAt, a.LastUsedAt = fromMicros(created), fromMicros(used)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list totp: %w", classify(err))
	}
	return out, nil
}

// UseTOTPStep implements auth.Factors.
func (db *DB) UseTOTPStep(ctx context.Context, id string, step int64, at time.Time, rotate *auth.SessionRotation) (bool, error) {
	return db.withRotation(ctx, "use totp step", rotate,
		"UPDATE totp_authenticators SET last_step = $1, last_used_at = $2 WHERE id = $3 AND last_step < $1", step, micros(at), id)
}

// withRotation runs one conditional write alone, or, when rotate is not
// nil, it and the session's rotation in one transaction, all or nothing
// (the user's row locked first, as every writer that touches several of a
// user's rows does): false when the write changed no row,
// ErrSessionRotated when it would have but the rotation changed none.
func (db *DB) withRotation(ctx context.Context, what string, rotate *auth.SessionRotation, query string, args ...any) (bool, error) {
	if rotate == nil {
		tag, err := db.pool.Exec(ctx, query, args...)
		return changed(tag, err, what)
	}
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("%s: %w", what, classify(err))
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	won, err := func() (bool, error) {
		if err := lockUser(ctx, tx, rotate.Next.UserID); err != nil {
			return false, err
		}
		tag, err := tx.Exec(ctx, query, args...)
		if err != nil || tag.RowsAffected() == 0 {
			return false, err
		}
		tag, err = tx.Exec(ctx, rotateSQL, rotateArgs(rotate.OldHash, rotate.Next)...)
		if err == nil && tag.RowsAffected() == 0 {
			return false, auth.ErrSessionRotated
		}
		return err == nil, err
	}()
	if errors.Is(err, auth.ErrSessionRotated) {
		return false, err // the deferred rollback undoes the write
	}
	if err == nil && won {
		err = tx.Commit(ctx)
	}
	if err != nil {
		return false, fmt.Errorf("%s: %w", what, classify(err))
	}
	return won, nil
}

// SucceedTOTP implements auth.Factors.
func (db *DB) SucceedTOTP(ctx context.Context, userID string, prev int, prevLockedUntil time.Time, id string, step int64, at time.Time, rotate *auth.SessionRotation, events ...auth.Event) (bool, error) {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("succeed totp: %w", classify(err))
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	won, err := func() (bool, error) {
		// The user row first, as every other writer that touches both
		// (DeleteSecondFactors) does: the other order can deadlock.
		tag, err := tx.Exec(ctx, "UPDATE users SET failed_attempts = 0, locked_until = 0 WHERE id = $1 AND failed_attempts = $2 AND locked_until = $3",
			userID, prev, micros(prevLockedUntil))
		if err != nil || tag.RowsAffected() == 0 {
			return false, err
		}
		tag, err = tx.Exec(ctx, "UPDATE totp_authenticators SET last_step = $1, last_used_at = $2 WHERE id = $3 AND user_id = $4 AND last_step < $1",
			step, micros(at), id, userID)
		if err != nil || tag.RowsAffected() == 0 {
			return false, err
		}
		if rotate != nil {
			if tag, err = tx.Exec(ctx, rotateSQL, rotateArgs(rotate.OldHash, rotate.Next)...); err != nil || tag.RowsAffected() == 0 {
				return false, err
			}
		}
		for _, e := range events {
			if err := insertEvent(ctx, tx, e); err != nil {
				return false, err
			}
		}
		return true, nil
	}()
	if err != nil {
		return false, fmt.Errorf("succeed totp: %w", classify(err))
	}
	if !won {
		return false, nil // the deferred rollback undoes what ran
	}
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("succeed totp: %w", classify(err))
	}
	return true, nil
}

// DeleteTOTP implements auth.Factors.
func (db *DB) DeleteTOTP(ctx context.Context, userID, id string) error {
	return db.execOne(ctx, "delete totp", "DELETE FROM totp_authenticators WHERE user_id = $1 AND id = $2", userID, id)
}

// ReplaceBackupCodes implements auth.Factors.
func (db *DB) ReplaceBackupCodes(ctx context.Context, userID string, hashes []string, now time.Time) error {
	return db.tx(ctx, "replace backup codes", func(tx pgx.Tx) error {
		if err := lockUser(ctx, tx, userID); err != nil {
			return err
		}
		return replaceBackupCodes(ctx, tx, userID, hashes, now)
	})
}

func replaceBackupCodes(ctx context.Context, tx pgx.Tx, userID string, hashes []string, now time.Time) error {
	if _, err := tx.Exec(ctx, "DELETE FROM backup_codes WHERE user_id = $1", userID); err != nil {
		return err
	}
	for _, h := range hashes {
		if _, err := tx.Exec(ctx, "INSERT INTO backup_codes (user_id, code_hash, created_at) VALUES ($1, $2, $3)", userID, h, micros(now)); err != nil {
			return err
		}
	}
	return nil
}

// UseBackupCode implements auth.Factors.
func (db *DB) UseBackupCode(ctx context.Context, userID, hash string, at time.Time, rotate *auth.SessionRotation) (bool, error) {
	return db.withRotation(ctx, "use backup code", rotate,
		"UPDATE backup_codes SET used_at = $1 WHERE user_id = $2 AND code_hash = $3 AND used_at = 0", micros(at), userID, hash)
}

// BackupCodesRemaining implements auth.Factors.
func (db *DB) BackupCodesRemaining(ctx context.Context, userID string) (int, error) {
	var n int
	if err := db.pool.QueryRow(ctx, "SELECT COUNT(*) FROM backup_codes WHERE user_id = $1 AND used_at = 0", userID).Scan(&n); err != nil {
		return 0, fmt.Errorf("count backup codes: %w", classify(err))
	}
	return n, nil
}

// DeleteSecondFactors implements auth.Factors.
func (db *DB) DeleteSecondFactors(ctx context.Context, userID string) error {
	return db.tx(ctx, "delete second factors", func(tx pgx.Tx) error {
		if err := lockUser(ctx, tx, userID); err != nil {
			return err
		}
		for _, table := range []string{"totp_authenticators", "totp_pending", "backup_codes", "sms_phones", "sms_pending", "sms_codes", "webauthn_credentials", "webauthn_challenges", "trusted_devices"} {
			if _, err := tx.Exec(ctx, "DELETE FROM "+table+" WHERE user_id = $1", userID); err != nil {
				return err
			}
		}
		return nil
	})
}

// Setting implements auth.Settings.
func (db *DB) Setting(ctx context.Context, name string) (string, error) {
	var v string
	if err := db.pool.QueryRow(ctx, "SELECT value FROM settings WHERE name = $1", name).Scan(&v); err != nil {
		return "", fmt.Errorf("setting %s: %w", name, classify(err))
	}
	return v, nil
}

// AddSetting implements auth.Settings.
func (db *DB) AddSetting(ctx context.Context, name, value string) error {
	if _, err := db.pool.Exec(ctx, "INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING", name, value); err != nil {
		return fmt.Errorf("add setting %s: %w", name, classify(err))
	}
	return nil
}

// sealedColumn is a place that holds sealed values.
type sealedColumn struct{ kind, table, key, column string }

// sealedColumns are the places that hold sealed values, listed in this order.
var sealedColumns = []sealedColumn{
	{"totp", "totp_authenticators", "id", "secret"},
	{"totp_pending", "totp_pending", "id", "secret"},
	{"setting", "settings", "name", "value"},
	{"sms", "sms_phones", "id", "phone"},
	{"sms_pending", "sms_pending", "id", "phone"},
	{"delivery", "deliveries", "id", "payload"},
}

// SealedValues implements auth.Resealer.
func (db *DB) SealedValues(ctx context.Context) ([]auth.Sealed, error) {
	out := []auth.Sealed{}
	for _, c := range sealedColumns {
		// A given-up delivery's payload is '' (nothing sealed).
		rows, err := db.pool.Query(ctx, "SELECT "+c.key+", "+c.column+" FROM "+c.table+" WHERE "+c.column+" != ''")
		if err != nil {
			return nil, fmt.Errorf("list sealed values: %w", classify(err))
		}
		for rows.Next() {
			s := auth.Sealed{Kind: c.kind}
			if err := rows.Scan(&s.ID, &s.Value); err != nil {
				rows.Close()
				return nil, fmt.Errorf("list sealed values: %w", classify(err))
			}
			out = append(out, s)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("list sealed values: %w", classify(err))
		}
	}
	return out, nil
}

// ReplaceSealed implements auth.Resealer.
func (db *DB) ReplaceSealed(ctx context.Context, kind, id, old, new string) (bool, error) {
	for _, c := range sealedColumns {
		if c.kind == kind {
			tag, err := db.pool.Exec(ctx, "UPDATE "+c.table+" SET "+c.column+" = $1 WHERE "+c.key+" = $2 AND "+c.column+" = $3", new, id, old)
			return changed(tag, err, "replace sealed")
		}
	}
	return false, fmt.Errorf("replace sealed: unknown kind %q", kind)
}

// lockUser locks the user's row for the rest of tx, so the multi-statement
// operations on one user's second factors (ConfirmTOTP, ReplaceBackupCodes,
// DeleteSecondFactors) run one after another, as they do behind SQLite's
// single writer. Under READ COMMITTED they could otherwise interleave: a
// DeleteSecondFactors could miss an authenticator that a concurrent
// ConfirmTOTP inserts, and two concurrent ReplaceBackupCodes could leave both
// sets. FOR NO KEY UPDATE does not block inserts that only reference the user
// (sessions, events). A missing user is no error here: the statements that
// follow behave as they would without the lock.
func lockUser(ctx context.Context, tx pgx.Tx, userID string) error {
	_, err := tx.Exec(ctx, "SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE", userID)
	return err
}

// tx runs fn in a transaction, committing when it returns nil.
func (db *DB) tx(ctx context.Context, doing string, fn func(pgx.Tx) error) error {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", doing, classify(err))
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if err := fn(tx); err != nil {
		return fmt.Errorf("%s: %w", doing, classify(err))
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("%s: %w", doing, classify(err))
	}
	return nil
}

// changed reports whether a conditional write changed a row.
func changed(tag pgconn.CommandTag, err error, doing string) (bool, error) {
	if err != nil {
		return false, fmt.Errorf("%s: %w", doing, classify(err))
	}
	return tag.RowsAffected() > 0, nil
}
