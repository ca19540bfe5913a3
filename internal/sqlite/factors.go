package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/twofold-auth/twofold/internal/auth"
)

// ClaimAttempt implements auth.Factors.
func (db *DB) ClaimAttempt(ctx context.Context, userID string, prev int, prevLockedUntil time.Time, next int, lockedUntil time.Time, events ...auth.Event) (bool, error) {
	stmts := []stmt{{"UPDATE users SET failed_attempts = ?, locked_until = ? WHERE id = ? AND failed_attempts = ? AND locked_until = ?",
		[]any{next, micros(lockedUntil), userID, prev, micros(prevLockedUntil)}}}
	stmts, err := withEvents(stmts, events)
	if err != nil {
		return false, fmt.Errorf("claim attempt: %w", err)
	}
	res, err := db.write.ExecChain(ctx, stmts...)
	return changed(res, err, "claim attempt")
}

// ResetAttempts implements auth.Factors.
func (db *DB) ResetAttempts(ctx context.Context, userID string, claimed int, claimedLockedUntil time.Time) error {
	_, err := db.write.ExecContext(ctx,
		"UPDATE users SET failed_attempts = 0, locked_until = 0 WHERE id = ? AND failed_attempts = ? AND locked_until = ?",
		userID, claimed, micros(claimedLockedUntil))
	if err != nil {
		return fmt.Errorf("reset attempts: %w", classify(err))
	}
	return nil
}

// PutPendingTOTP implements auth.Factors.
func (db *DB) PutPendingTOTP(ctx context.Context, p auth.PendingTOTP) error {
	_, err := db.write.ExecContext(ctx, `INSERT INTO totp_pending (user_id, id, name, secret, created_at) VALUES (?, ?, ?, ?, ?)
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
	err := db.read.QueryRowContext(ctx, "SELECT id, name, secret, created_at FROM totp_pending WHERE user_id = ?", userID).
		Scan(&p.ID, &p.Name, &p.Secret, &created)
	if err != nil {
		return auth.PendingTOTP{}, fmt.Errorf("pending totp: %w", classify(err))
	}
	p.CreatedAt = fromMicros(created)
	return p, nil
}

// ConfirmTOTP implements auth.Factors.
func (db *DB) ConfirmTOTP(ctx context.Context, a auth.TOTPAuthenticator, backupHashes []string, now time.Time) error {
	return db.tx(ctx, "confirm totp", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM totp_pending WHERE user_id = ? AND id = ?", a.UserID, a.ID)
		if ok, err := changed(res, err, "delete pending"); err != nil || !ok {
			if err == nil {
				err = auth.ErrNotFound
			}
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO totp_authenticators
			(id, user_id, name, secret, algorithm, digits, period, last_step, created_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
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
	rows, err := db.read.QueryContext(ctx, `SELECT id, user_id, name, secret, algorithm, digits, period, last_step, created_at, last_used_at
		FROM totp_authenticators WHERE user_id = ? ORDER BY id`, userID)
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
	return db.withRotation(ctx, "use totp step", rotate, stmt{"UPDATE totp_authenticators SET last_step = ?, last_used_at = ? WHERE id = ? AND last_step < ?",
		[]any{step, micros(at), id, step}})
}

// withRotation runs the conditional write st alone, or, when rotate is
// not nil, st and the session's rotation as one all-or-nothing chain:
// false when st changed no row, ErrSessionRotated when it would have but
// the rotation changed none.
func (db *DB) withRotation(ctx context.Context, doing string, rotate *auth.SessionRotation, st stmt) (bool, error) {
	if rotate == nil {
		res, err := db.write.ExecContext(ctx, st.query, st.args...)
		return changed(res, err, doing)
	}
	res, err := db.write.ExecChain(ctx, st, rotateSession(rotate.OldHash, rotate.Next))
	if err == nil && lostAt(res) == 1 {
		return false, auth.ErrSessionRotated
	}
	return changed(res, err, doing)
}

// SucceedTOTP implements auth.Factors.
func (db *DB) SucceedTOTP(ctx context.Context, userID string, prev int, prevLockedUntil time.Time, id string, step int64, at time.Time, rotate *auth.SessionRotation, events ...auth.Event) (bool, error) {
	stmts := []stmt{
		{"UPDATE users SET failed_attempts = 0, locked_until = 0 WHERE id = ? AND failed_attempts = ? AND locked_until = ?",
			[]any{userID, prev, micros(prevLockedUntil)}},
		{"UPDATE totp_authenticators SET last_step = ?, last_used_at = ? WHERE id = ? AND user_id = ? AND last_step < ?",
			[]any{step, micros(at), id, userID, step}},
	}
	if rotate != nil {
		stmts = append(stmts, rotateSession(rotate.OldHash, rotate.Next))
	}
	stmts, err := withEvents(stmts, events)
	if err != nil {
		return false, fmt.Errorf("succeed totp: %w", err)
	}
	res, err := db.write.ExecChain(ctx, stmts...)
	return changed(res, err, "succeed totp")
}

// withEvents is stmts followed by the statements that store events.
func withEvents(stmts []stmt, events []auth.Event) ([]stmt, error) {
	for _, e := range events {
		st, err := eventInsert(e)
		if err != nil {
			return nil, err
		}
		stmts = append(stmts, st)
	}
	return stmts, nil
}

// DeleteTOTP implements auth.Factors.
func (db *DB) DeleteTOTP(ctx context.Context, userID, id string) error {
	return db.execOne(ctx, "delete totp", "DELETE FROM totp_authenticators WHERE user_id = ? AND id = ?", userID, id)
}

// ReplaceBackupCodes implements auth.Factors.
func (db *DB) ReplaceBackupCodes(ctx context.Context, userID string, hashes []string, now time.Time) error {
	return db.tx(ctx, "replace backup codes", func(tx *sql.Tx) error {
		return replaceBackupCodes(ctx, tx, userID, hashes, now)
	})
}

func replaceBackupCodes(ctx context.Context, tx *sql.Tx, userID string, hashes []string, now time.Time) error {
	if _, err := tx.ExecContext(ctx, "DELETE FROM backup_codes WHERE user_id = ?", userID); err != nil {
		return err
	}
	for _, h := range hashes {
		if _, err := tx.ExecContext(ctx, "INSERT INTO backup_codes (user_id, code_hash, created_at) VALUES (?, ?, ?)", userID, h, micros(now)); err != nil {
			return err
		}
	}
	return nil
}

// UseBackupCode implements auth.Factors.
func (db *DB) UseBackupCode(ctx context.Context, userID, hash string, at time.Time, rotate *auth.SessionRotation) (bool, error) {
	return db.withRotation(ctx, "use backup code", rotate, stmt{"UPDATE backup_codes SET used_at = ? WHERE user_id = ? AND code_hash = ? AND used_at = 0",
		[]any{micros(at), userID, hash}})
}

// BackupCodesRemaining implements auth.Factors.
func (db *DB) BackupCodesRemaining(ctx context.Context, userID string) (int, error) {
	var n int
	if err := db.read.QueryRowContext(ctx, "SELECT COUNT(*) FROM backup_codes WHERE user_id = ? AND used_at = 0", userID).Scan(&n); err != nil {
		return 0, fmt.Errorf("count backup codes: %w", classify(err))
	}
	return n, nil
}

// DeleteSecondFactors implements auth.Factors.
func (db *DB) DeleteSecondFactors(ctx context.Context, userID string) error {
	return db.tx(ctx, "delete second factors", func(tx *sql.Tx) error {
		for _, table := range []string{"totp_authenticators", "totp_pending", "backup_codes", "sms_phones", "sms_pending", "sms_codes", "webauthn_credentials", "webauthn_challenges", "trusted_devices"} {
			if _, err := tx.ExecContext(ctx, "DELETE FROM "+table+" WHERE user_id = ?", userID); err != nil {
				return err
			}
		}
		return nil
	})
}

// Setting implements auth.Settings.
func (db *DB) Setting(ctx context.Context, name string) (string, error) {
	var v string
	if err := db.read.QueryRowContext(ctx, "SELECT value FROM settings WHERE name = ?", name).Scan(&v); err != nil {
		return "", fmt.Errorf("setting %s: %w", name, classify(err))
	}
	return v, nil
}

// AddSetting implements auth.Settings.
func (db *DB) AddSetting(ctx context.Context, name, value string) error {
	if _, err := db.write.ExecContext(ctx, "INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING", name, value); err != nil {
		return fmt.Errorf("add setting %s: %w", name, classify(err))
	}
	return nil
}

// sealedColumns are the places that hold sealed values, by kind.
var sealedColumns = map[string]struct{ table, key, column string }{
	"totp":         {"totp_authenticators", "id", "secret"},
	"totp_pending": {"totp_pending", "id", "secret"},
	"setting":      {"settings", "name", "value"},
	"sms":          {"sms_phones", "id", "phone"},
	"sms_pending":  {"sms_pending", "id", "phone"},
	"delivery":     {"deliveries", "id", "payload"},
}

// SealedValues implements auth.Resealer.
func (db *DB) SealedValues(ctx context.Context) ([]auth.Sealed, error) {
	out := []auth.Sealed{}
	for kind, c := range sealedColumns {
		// A given-up delivery's payload is '' (nothing sealed).
		rows, err := db.read.QueryContext(ctx, "SELECT "+c.key+", "+c.column+" FROM "+c.table+" WHERE "+c.column+" != ''")
		if err != nil {
			return nil, fmt.Errorf("list sealed values: %w", classify(err))
		}
		for rows.Next() {
			s := auth.Sealed{Kind: kind}
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
	c, ok := sealedColumns[kind]
	if !ok {
		return false, fmt.Errorf("replace sealed: unknown kind %q", kind)
	}
	res, err := db.write.ExecContext(ctx, "UPDATE "+c.table+" SET "+c.column+" = ? WHERE "+c.key+" = ? AND "+c.column+" = ?", new, id, old)
	return changed(res, err, "replace sealed")
}

// tx runs fn in a write transaction (BEGIN IMMEDIATE on the writer).
func (db *DB) tx(ctx context.Context, doing string, fn func(*sql.Tx) error) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", doing, classify(err))
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return fmt.Errorf("%s: %w", doing, classify(err))
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s: %w", doing, classify(err))
	}
	return nil
}

// changed reports whether a conditional write changed a row.
func changed(res sql.Result, err error, doing string) (bool, error) {
	if err != nil {
		return false, fmt.Errorf("%s: %w", doing, classify(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("%s: %w", doing, classify(err))
	}
	return n > 0, nil
}
