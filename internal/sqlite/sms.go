package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/twofold-auth/twofold/internal/auth"
)

// PutPendingSMS implements auth.SMSFactors.
func (db *DB) PutPendingSMS(ctx context.Context, p auth.PendingSMS) error {
	_, err := db.write.ExecContext(ctx, `INSERT INTO sms_pending (user_id, id, name, phone, created_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET id = excluded.id, name = excluded.name, phone = excluded.phone, created_at = excluded.created_at`,
		p.UserID, p.ID, p.Name, p.Phone, micros(p.CreatedAt))
	if err != nil {
		return fmt.Errorf("put pending sms: %w", classify(err))
	}
	return nil
}

// PendingSMS implements auth.SMSFactors.
func (db *DB) PendingSMS(ctx context.Context, userID string) (auth.PendingSMS, error) {
	p := auth.PendingSMS{UserID: userID}
	var created int64
	err := db.read.QueryRowContext(ctx, "SELECT id, name, phone, created_at FROM sms_pending WHERE user_id = ?", userID).
		Scan(&p.ID, &p.Name, &p.Phone, &created)
	if err != nil {
		return auth.PendingSMS{}, fmt.Errorf("pending sms: %w", classify(err))
	}
	p.CreatedAt = fromMicros(created)
	return p, nil
}

// ConfirmSMS implements auth.SMSFactors.
func (db *DB) ConfirmSMS(ctx context.Context, p auth.SMSPhone, backupHashes []string, now time.Time) error {
	return db.tx(ctx, "confirm sms", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM sms_pending WHERE user_id = ? AND id = ?", p.UserID, p.ID)
		if ok, err := changed(res, err, "delete pending"); err != nil || !ok {
			if err == nil {
				err = auth.ErrNotFound
			}
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM sms_codes WHERE user_id = ? AND purpose = 'login'", p.UserID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM sms_phones WHERE user_id = ?", p.UserID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO sms_phones (id, user_id, name, phone, created_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?)",
			p.ID, p.UserID, p.Name, p.Phone, micros(p.CreatedAt), micros(p.LastUsedAt)); err != nil {
			return err
		}
		if backupHashes != nil {
			return replaceBackupCodes(ctx, tx, p.UserID, backupHashes, now)
		}
		return nil
	})
}

// SMSPhones implements auth.SMSFactors.
func (db *DB) SMSPhones(ctx context.Context, userID string) ([]auth.SMSPhone, error) {
	rows, err := db.read.QueryContext(ctx, "SELECT id, user_id, name, phone, created_at, last_used_at FROM sms_phones WHERE user_id = ? ORDER BY id", userID)
	if err != nil {
		return nil, fmt.Errorf("list phones: %w", classify(err))
	}
	defer rows.Close()
	out := []auth.SMSPhone{}
	for rows.Next() {
		var p auth.SMSPhone
		var created, used int64
		if err := rows.Scan(&p.ID, &p.UserID, &p.Name, &p.Phone, &created, &used); err != nil {
			return nil, fmt.Errorf("list phones: %w", classify(err))
		}
		p.CreatedAt, p.LastUsedAt = fromMicros(created), fromMicros(used)
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list phones: %w", classify(err))
	}
	return out, nil
}

// DeleteSMSPhone implements auth.SMSFactors.
func (db *DB) DeleteSMSPhone(ctx context.Context, userID, id string) error {
	return db.tx(ctx, "delete phone", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM sms_phones WHERE user_id = ? AND id = ?", userID, id)
		if ok, err := changed(res, err, "delete phone"); err != nil || !ok {
			if err == nil {
				err = auth.ErrNotFound
			}
			return err
		}
		_, err = tx.ExecContext(ctx, "DELETE FROM sms_codes WHERE user_id = ? AND phone_id = ?", userID, id)
		return err
	})
}

// TouchSMSPhone implements auth.SMSFactors.
func (db *DB) TouchSMSPhone(ctx context.Context, id string, at time.Time) error {
	if _, err := db.write.ExecContext(ctx, "UPDATE sms_phones SET last_used_at = ? WHERE id = ?", micros(at), id); err != nil {
		return fmt.Errorf("touch phone: %w", classify(err))
	}
	return nil
}

// PutSMSCode implements auth.SMSFactors.
func (db *DB) PutSMSCode(ctx context.Context, c auth.SMSCode) error {
	_, err := db.write.ExecContext(ctx, `INSERT INTO sms_codes (session_id, user_id, purpose, phone_id, code_hash, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (session_id) DO UPDATE SET user_id = excluded.user_id, purpose = excluded.purpose, phone_id = excluded.phone_id,
			code_hash = excluded.code_hash, created_at = excluded.created_at, expires_at = excluded.expires_at`,
		c.SessionID, c.UserID, c.Purpose, c.PhoneID, c.Hash, micros(c.CreatedAt), micros(c.ExpiresAt))
	if err != nil {
		return fmt.Errorf("put sms code: %w", classify(err))
	}
	return nil
}

// UseSMSCode implements auth.SMSFactors.
func (db *DB) UseSMSCode(ctx context.Context, sessionID, purpose, hash string, now time.Time, rotate *auth.SessionRotation) (string, error) {
	const use = "DELETE FROM sms_codes WHERE session_id = ? AND purpose = ? AND code_hash = ? AND expires_at > ? RETURNING phone_id"
	args := []any{sessionID, purpose, hash, micros(now)}
	var phoneID string
	if rotate == nil {
		if err := db.write.QueryRowContext(ctx, use, args...).Scan(&phoneID); err != nil {
			return "", fmt.Errorf("use sms code: %w", classify(err))
		}
		return phoneID, nil
	}
	err := db.tx(ctx, "use sms code", func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, use, args...).Scan(&phoneID); err != nil {
			return err
		}
		st := rotateSession(rotate.OldHash, rotate.Next)
		res, err := tx.ExecContext(ctx, st.query, st.args...)
		ok, err := changed(res, err, "rotate session")
		if err == nil && !ok {
			err = auth.ErrSessionRotated
		}
		return err
	})
	if err != nil {
		return "", err
	}
	return phoneID, nil
}

// ClaimSMSSend implements auth.SMSFactors. The writer connection runs one
// statement at a time, so the check and the insert cannot interleave with
// another claim.
func (db *DB) ClaimSMSSend(ctx context.Context, userID string, at, cooldownStart, windowStart time.Time, max int) (bool, error) {
	var ok bool
	err := db.tx(ctx, "claim sms send", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM sms_sends WHERE user_id = ? AND sent_at < ?", userID, micros(windowStart)); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO sms_sends (user_id, sent_at) SELECT ?, ?
			WHERE NOT EXISTS (SELECT 1 FROM sms_sends WHERE user_id = ? AND sent_at >= ?)
			AND (SELECT COUNT(*) FROM sms_sends WHERE user_id = ? AND sent_at >= ?) < ?`,
			userID, micros(at), userID, micros(cooldownStart), userID, micros(windowStart), max)
		ok, err = changed(res, err, "insert")
		return err
	})
	return ok, err
}

// SMSSendsSince implements auth.SMSFactors.
func (db *DB) SMSSendsSince(ctx context.Context, userID string, since time.Time) ([]time.Time, error) {
	rows, err := db.read.QueryContext(ctx, "SELECT sent_at FROM sms_sends WHERE user_id = ? AND sent_at >= ? ORDER BY sent_at", userID, micros(since))
	if err != nil {
		return nil, fmt.Errorf("list sms sends: %w", classify(err))
	}
	defer rows.Close()
	out := []time.Time{}
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("list sms sends: %w", classify(err))
		}
		out = append(out, fromMicros(v))
	}
	return out, rows.Err()
}

// SeeClient implements auth.SeenClients.
func (db *DB) SeeClient(ctx context.Context, userID, kind, value string, at time.Time) (bool, error) {
	res, err := db.write.ExecContext(ctx, "INSERT INTO seen_clients (user_id, kind, value, first_seen) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
		userID, kind, value, micros(at))
	return changed(res, err, "see client")
}

// SeeClients implements auth.SeenClients.
func (db *DB) SeeClients(ctx context.Context, userID string, at time.Time, clients ...auth.SeenClient) error {
	if len(clients) == 0 {
		return nil
	}
	var args []any
	for _, c := range clients {
		args = append(args, userID, c.Kind, c.Value, micros(at))
	}
	q := "INSERT INTO seen_clients (user_id, kind, value, first_seen) VALUES " +
		strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?), ", len(clients)), ", ") + " ON CONFLICT DO NOTHING"
	if _, err := db.write.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("see clients: %w", classify(err))
	}
	return nil
}

// KnownClient implements auth.SeenClients.
func (db *DB) KnownClient(ctx context.Context, userID, network, family string) (auth.ClientSeen, error) {
	var s auth.ClientSeen
	err := db.read.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM seen_clients WHERE user_id = ?1),
		EXISTS (SELECT 1 FROM seen_clients WHERE user_id = ?1 AND kind = 'ip' AND value = ?2),
		EXISTS (SELECT 1 FROM seen_clients WHERE user_id = ?1 AND kind = 'ua' AND value = ?3)`, userID, network, family).
		Scan(&s.Any, &s.Network, &s.Family)
	if err != nil {
		return auth.ClientSeen{}, fmt.Errorf("known client: %w", classify(err))
	}
	return s, nil
}
