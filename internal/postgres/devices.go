package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/twofold-auth/twofold/internal/auth"
)

const deviceCols = "id, user_id, token_hash, name, created_at, last_used_at, expires_at"

func scanDevice(row interface{ Scan(...any) error }) (auth.TrustedDevice, error) {
	var d auth.TrustedDevice
	var created, used, expires int64
	if err := row.Scan(&d.ID, &d.UserID, &d.TokenHash, &d.Name, &created, &used, &expires); err != nil {
		return auth.TrustedDevice{}, classify(err)
	}
	d.CreatedAt, d.LastUsedAt, d.ExpiresAt = fromMicros(created), fromMicros(used), fromMicros(expires)
	return d, nil
}

// AddTrustedDevice implements auth.Devices.
// The user's row lock (lockUser) serialises it with the user's other
// AddTrustedDevice and DeleteSecondFactors calls: each sees the others'
// devices, so the cap holds, and a device is never inserted in the middle
// of a DeleteSecondFactors.
func (db *DB) AddTrustedDevice(ctx context.Context, d auth.TrustedDevice, keep int) error {
	return db.tx(ctx, "add trusted device", func(tx pgx.Tx) error {
		if err := lockUser(ctx, tx, d.UserID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "INSERT INTO trusted_devices ("+deviceCols+") VALUES ($1, $2, $3, $4, $5, $6, $7)",
			d.ID, d.UserID, d.TokenHash, text(d.Name), micros(d.CreatedAt), micros(d.LastUsedAt), micros(d.ExpiresAt)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM trusted_devices WHERE user_id = $1 AND id NOT IN
			(SELECT id FROM trusted_devices WHERE user_id = $1 ORDER BY id DESC LIMIT $2)`, d.UserID, keep)
		return err
	})
}

// TrustedDeviceByToken implements auth.Devices.
func (db *DB) TrustedDeviceByToken(ctx context.Context, tokenHash string) (auth.TrustedDevice, bool, error) {
	d, err := scanDevice(db.pool.QueryRow(ctx, "SELECT "+deviceCols+" FROM trusted_devices WHERE token_hash = $1", tokenHash))
	if err == nil {
		return d, false, nil
	}
	if !errors.Is(err, auth.ErrNotFound) {
		return auth.TrustedDevice{}, false, fmt.Errorf("trusted device by token: %w", err)
	}
	var created, used, expires, retired int64
	err = db.pool.QueryRow(ctx, `SELECT d.id, d.user_id, d.token_hash, d.name, d.created_at, d.last_used_at, d.expires_at, r.retired_at
		FROM trusted_device_retired r JOIN trusted_devices d ON d.id = r.device_id WHERE r.token_hash = $1`, tokenHash).
		Scan(&d.ID, &d.UserID, &d.TokenHash, &d.Name, &created, &used, &expires, &retired)
	if err != nil {
		return auth.TrustedDevice{}, false, fmt.Errorf("trusted device by retired token: %w", classify(err))
	}
	d.CreatedAt, d.LastUsedAt, d.ExpiresAt, d.RetiredAt = fromMicros(created), fromMicros(used), fromMicros(expires), fromMicros(retired)
	return d, true, nil
}

// RotateTrustedDevice implements auth.Devices. The UPDATE takes the row's
// lock; a concurrent rotation waits for it, then finds the hash changed and
// updates nothing.
func (db *DB) RotateTrustedDevice(ctx context.Context, id, oldHash, newHash string, at time.Time) (bool, error) {
	won := false
	err := db.tx(ctx, "rotate trusted device", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, "UPDATE trusted_devices SET token_hash = $1, last_used_at = $2 WHERE id = $3 AND token_hash = $4",
			newHash, micros(at), id, oldHash)
		if won, err = changed(tag, err, "update token"); err != nil || !won {
			return err
		}
		_, err = tx.Exec(ctx, "INSERT INTO trusted_device_retired (token_hash, device_id, retired_at) VALUES ($1, $2, $3)", oldHash, id, micros(at))
		return err
	})
	if err != nil {
		return false, err
	}
	return won, nil
}

// TrustedDevices implements auth.Devices.
func (db *DB) TrustedDevices(ctx context.Context, userID string) ([]auth.TrustedDevice, error) {
	rows, err := db.pool.Query(ctx, "SELECT "+deviceCols+" FROM trusted_devices WHERE user_id = $1 ORDER BY id", userID)
	if err != nil {
		return nil, fmt.Errorf("list trusted devices: %w", classify(err))
	}
	defer rows.Close()
	out := []auth.TrustedDevice{}
	for rows.Next() {
		d, err := scanDevice(rows)
		if err != nil {
			return nil, fmt.Errorf("list trusted devices: %w", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list trusted devices: %w", classify(err))
	}
	return out, nil
}

// DeleteTrustedDevice implements auth.Devices.
func (db *DB) DeleteTrustedDevice(ctx context.Context, userID, id string) error {
	return db.execOne(ctx, "delete trusted device", "DELETE FROM trusted_devices WHERE user_id = $1 AND id = $2", userID, id)
}

// DeleteTrustedDevices implements auth.Devices.
func (db *DB) DeleteTrustedDevices(ctx context.Context, userID, keepSessionID string) (int, error) {
	var n int64
	err := db.tx(ctx, "delete trusted devices", func(tx pgx.Tx) error {
		if keepSessionID != "" {
			// Devices before sessions, the order every other deletion of a
			// device takes (the cascade locks their sessions after them).
			if _, err := tx.Exec(ctx, "SELECT 1 FROM trusted_devices WHERE user_id = $1 ORDER BY id FOR UPDATE", userID); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, "UPDATE sessions SET device_id = NULL WHERE id = $1 AND user_id = $2", keepSessionID, userID); err != nil {
				return err
			}
		}
		tag, err := tx.Exec(ctx, "DELETE FROM trusted_devices WHERE user_id = $1", userID)
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		return nil
	})
	return int(n), err
}

// DeleteExpiredTrustedDevices implements auth.Devices.
func (db *DB) DeleteExpiredTrustedDevices(ctx context.Context, before time.Time) (int, error) {
	tag, err := db.pool.Exec(ctx, "DELETE FROM trusted_devices WHERE expires_at < $1", micros(before))
	if err != nil {
		return 0, fmt.Errorf("delete expired trusted devices: %w", classify(err))
	}
	return int(tag.RowsAffected()), nil
}

// ListUsers implements auth.Accounts. users.id has the database's default
// collation, so the order is spelled out as bytes ("C"), as in SQLite.
func (db *DB) ListUsers(ctx context.Context, afterID string, limit int) ([]auth.User, error) {
	rows, err := db.pool.Query(ctx, "SELECT "+userCols+` FROM users WHERE id > $1 COLLATE "C" ORDER BY id COLLATE "C" LIMIT $2`, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", classify(err))
	}
	defer rows.Close()
	out := []auth.User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list users: %w", classify(err))
	}
	return out, nil
}

// ClearAttempts implements auth.Accounts.
func (db *DB) ClearAttempts(ctx context.Context, userID string) error {
	return db.execOne(ctx, "clear attempts", "UPDATE users SET failed_attempts = 0, locked_until = 0 WHERE id = $1", userID)
}
