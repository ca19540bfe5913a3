package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/twofold-auth/twofold/internal/auth"
)

// PutPendingSMS implements auth.SMSFactors.
func (db *DB) PutPendingSMS(ctx context.Context, p auth.PendingSMS) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO sms_pending (user_id, id, name, phone, created_at) VALUES ($1, $2, $3, $4, $5)
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
	err := db.pool.QueryRow(ctx, "SELECT id, name, phone, created_at FROM sms_pending WHERE user_id = $1", userID).
		Scan(&p.ID, &p.Name, &p.Phone, &created)
	if err != nil {
		return auth.PendingSMS{}, fmt.Errorf("pending sms: %w", classify(err))
	}
	p.CreatedAt = fromMicros(created)
	return p, nil
}

// ConfirmSMS implements auth.SMSFactors.
func (db *DB) ConfirmSMS(ctx context.Context, p auth.SMSPhone, backupHashes []string, now time.Time) error {
	return db.tx(ctx, "confirm sms", func(tx pgx.Tx) error {
		if err := lockUser(ctx, tx, p.UserID); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, "DELETE FROM sms_pending WHERE user_id = $1 AND id = $2", p.UserID, p.ID)
		if ok, err := changed(tag, err, "delete pending"); err != nil || !ok {
			if err == nil {
				err = auth.ErrNotFound
			}
			return err
		}
		if _, err := tx.Exec(ctx, "DELETE FROM sms_codes WHERE user_id = $1 AND purpose = 'login'", p.UserID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "DELETE FROM sms_phones WHERE user_id = $1", p.UserID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "INSERT INTO sms_phones (id, user_id, name, phone, created_at, last_used_at) VALUES ($1, $2, $3, $4, $5, $6)",
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
	rows, err := db.pool.Query(ctx, "SELECT id, user_id, name, phone, created_at, last_used_at FROM sms_phones WHERE user_id = $1 ORDER BY id", userID)
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
	return db.tx(ctx, "delete phone", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, "DELETE FROM sms_phones WHERE user_id = $1 AND id = $2", userID, id)
		if ok, err := changed(tag, err, "delete phone"); err != nil || !ok {
			if err == nil {
				err = auth.ErrNotFound
			}
			return err
		}
		_, err = tx.Exec(ctx, "DELETE FROM sms_codes WHERE user_id = $1 AND phone_id = $2", userID, id)
		return err
	})
}

// TouchSMSPhone implements auth.SMSFactors.
func (db *DB) TouchSMSPhone(ctx context.Context, id string, at time.Time) error {
	if _, err := db.pool.Exec(ctx, "UPDATE sms_phones SET last_used_at = $1 WHERE id = $2", micros(at), id); err != nil {
		return fmt.Errorf("touch phone: %w", classify(err))
	}
	return nil
}

// PutSMSCode implements auth.SMSFactors.
func (db *DB) PutSMSCode(ctx context.Context, c auth.SMSCode) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO sms_codes (session_id, user_id, purpose, phone_id, code_hash, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (session_id) DO UPDATE SET user_id = excluded.user_id, purpose = excluded.purpose, phone_id = excluded.phone_id,
			code_hash = excluded.code_hash, created_at = excluded.created_at, expires_at = excluded.expires_at`,
		c.SessionID, c.UserID, c.Purpose, c.PhoneID, c.Hash, micros(c.CreatedAt), micros(c.ExpiresAt))
	if err != nil {
		return fmt.Errorf("put sms code: %w", classify(err))
	}
	return nil
}

// UseSMSCode implements auth.SMSFactors: one DELETE, so of concurrent
// callers (on any instance) one gets the row; with a rotation, a
// transaction that locks the user's row, then the session's, then deletes
// the code (a session's deletion locks the session, then its codes by
// cascade: the same order, so the two cannot deadlock).
func (db *DB) UseSMSCode(ctx context.Context, sessionID, purpose, hash string, now time.Time, rotate *auth.SessionRotation) (string, error) {
	const use = "DELETE FROM sms_codes WHERE session_id = $1 AND purpose = $2 AND code_hash = $3 AND expires_at > $4 RETURNING phone_id"
	args := []any{sessionID, purpose, hash, micros(now)}
	var phoneID string
	if rotate == nil {
		if err := db.pool.QueryRow(ctx, use, args...).Scan(&phoneID); err != nil {
			return "", fmt.Errorf("use sms code: %w", classify(err))
		}
		return phoneID, nil
	}
	err := db.tx(ctx, "use sms code", func(tx pgx.Tx) error {
		// The user's row first, as every writer of several of a user's rows.
		if err := lockUser(ctx, tx, rotate.Next.UserID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "SELECT 1 FROM sessions WHERE id = $1 FOR NO KEY UPDATE", sessionID); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, use, args...).Scan(&phoneID); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, rotateSQL, rotateArgs(rotate.OldHash, rotate.Next)...)
		if err == nil && tag.RowsAffected() == 0 {
			err = auth.ErrSessionRotated
		}
		return err
	})
	if err != nil {
		return "", err
	}
	return phoneID, nil
}

// ClaimSMSSend implements auth.SMSFactors. The user's row is locked for the
// transaction, so concurrent claims for one user run one after another
// (under READ COMMITTED the conditional insert alone would not see a
// concurrent one).
func (db *DB) ClaimSMSSend(ctx context.Context, userID string, at, cooldownStart, windowStart time.Time, max int) (bool, error) {
	var ok bool
	err := db.tx(ctx, "claim sms send", func(tx pgx.Tx) error {
		if err := lockUser(ctx, tx, userID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "DELETE FROM sms_sends WHERE user_id = $1 AND sent_at < $2", userID, micros(windowStart)); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO sms_sends (user_id, sent_at) SELECT $1, $2
			WHERE NOT EXISTS (SELECT 1 FROM sms_sends WHERE user_id = $1 AND sent_at >= $3)
			AND (SELECT COUNT(*) FROM sms_sends WHERE user_id = $1 AND sent_at >= $4) < $5`,
			userID, micros(at), micros(cooldownStart), micros(windowStart), max)
		ok, err = changed(tag, err, "insert")
		return err
	})
	return ok, err
}

// SMSSendsSince implements auth.SMSFactors.
func (db *DB) SMSSendsSince(ctx context.Context, userID string, since time.Time) ([]time.Time, error) {
	rows, err := db.pool.Query(ctx, "SELECT sent_at FROM sms_sends WHERE user_id = $1 AND sent_at >= $2 ORDER BY sent_at", userID, micros(since))
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
	tag, err := db.pool.Exec(ctx, "INSERT INTO seen_clients (user_id, kind, value, first_seen) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
		userID, kind, text(value), micros(at))
	return changed(tag, err, "see client")
}

// SeeClients implements auth.SeenClients.
func (db *DB) SeeClients(ctx context.Context, userID string, at time.Time, clients ...auth.SeenClient) error {
	if len(clients) == 0 {
		return nil
	}
	kinds := make([]string, len(clients))
	values := make([]string, len(clients))
	for i, c := range clients {
		kinds[i], values[i] = c.Kind, text(c.Value)
	}
	_, err := db.pool.Exec(ctx, `INSERT INTO seen_clients (user_id, kind, value, first_seen)
		SELECT $1, k, v, $2 FROM unnest($3::text[], $4::text[]) AS c(k, v) ON CONFLICT DO NOTHING`,
		userID, micros(at), kinds, values)
	if err != nil {
		return fmt.Errorf("see clients: %w", classify(err))
	}
	return nil
}

// KnownClient implements auth.SeenClients.
func (db *DB) KnownClient(ctx context.Context, userID, network, family string) (auth.ClientSeen, error) {
	var s auth.ClientSeen
	err := db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM seen_clients WHERE user_id = $1),
		EXISTS (SELECT 1 FROM seen_clients WHERE user_id = $1 AND kind = 'ip' AND value = $2),
		EXISTS (SELECT 1 FROM seen_clients WHERE user_id = $1 AND kind = 'ua' AND value = $3)`, userID, text(network), text(family)).
		Scan(&s.Any, &s.Network, &s.Family)
	if err != nil {
		return auth.ClientSeen{}, fmt.Errorf("known client: %w", classify(err))
	}
	return s, nil
}
