package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/twofold-auth/twofold/internal/auth"
)

// PutWebAuthnChallenge implements auth.WebAuthnStore.
func (db *DB) PutWebAuthnChallenge(ctx context.Context, c auth.WebAuthnChallenge) error {
	_, err := db.write.ExecContext(ctx, `INSERT INTO webauthn_challenges (owner, kind, challenge, user_id, name, expires_at)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (owner, kind) DO UPDATE SET challenge = excluded.challenge, user_id = excluded.user_id,
			name = excluded.name, expires_at = excluded.expires_at`,
		c.Owner, c.Kind, c.Challenge, c.UserID, c.Name, micros(c.ExpiresAt))
	if err != nil {
		return fmt.Errorf("put webauthn challenge: %w", classify(err))
	}
	return nil
}

// TakeWebAuthnChallenge implements auth.WebAuthnStore.
func (db *DB) TakeWebAuthnChallenge(ctx context.Context, owner, kind, challenge string, now time.Time) (auth.WebAuthnChallenge, error) {
	c := auth.WebAuthnChallenge{Owner: owner, Kind: kind, Challenge: challenge}
	var expires int64
	err := db.write.QueryRowContext(ctx, `DELETE FROM webauthn_challenges
		WHERE owner = ? AND kind = ? AND challenge = ? AND expires_at > ?
		RETURNING user_id, name, expires_at`, owner, kind, challenge, micros(now)).Scan(&c.UserID, &c.Name, &expires)
	if err != nil {
		return auth.WebAuthnChallenge{}, fmt.Errorf("take webauthn challenge: %w", classify(err))
	}
	c.ExpiresAt = fromMicros(expires)
	return c, nil
}

// DeleteExpiredWebAuthnChallenges implements auth.WebAuthnStore.
func (db *DB) DeleteExpiredWebAuthnChallenges(ctx context.Context, now time.Time) (int64, error) {
	res, err := db.write.ExecContext(ctx, "DELETE FROM webauthn_challenges WHERE expires_at <= ?", micros(now))
	if err != nil {
		return 0, fmt.Errorf("delete expired webauthn challenges: %w", classify(err))
	}
	return res.RowsAffected()
}

const webauthnCols = `id, user_id, credential_id, name, public_key, sign_count, aaguid, transports, attestation_fmt,
	user_verified, backup_eligible, backup_state, created_at, last_used_at`

// AddWebAuthnCredential implements auth.WebAuthnStore.
func (db *DB) AddWebAuthnCredential(ctx context.Context, c auth.WebAuthnCredential, backupHashes []string, now time.Time, max int) error {
	return db.tx(ctx, "add webauthn credential", func(tx *sql.Tx) error {
		// The write transaction holds SQLite's one write lock from here.
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM webauthn_credentials WHERE user_id = ?", c.UserID).Scan(&n); err != nil {
			return err
		}
		if n >= max {
			return auth.ErrLimit
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO webauthn_credentials ("+webauthnCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			c.ID, c.UserID, c.CredentialID, c.Name, c.PublicKey, int64(c.SignCount), c.AAGUID, strings.Join(c.Transports, ","),
			c.AttestationFormat, c.UserVerified, c.BackupEligible, c.BackupState, micros(c.CreatedAt), micros(c.LastUsedAt)); err != nil {
			return err
		}
		if backupHashes != nil {
			return replaceBackupCodes(ctx, tx, c.UserID, backupHashes, now)
		}
		return nil
	})
}

// WebAuthnCredentials implements auth.WebAuthnStore.
func (db *DB) WebAuthnCredentials(ctx context.Context, userID string) ([]auth.WebAuthnCredential, error) {
	rows, err := db.read.QueryContext(ctx, "SELECT "+webauthnCols+" FROM webauthn_credentials WHERE user_id = ? ORDER BY id", userID)
	if err != nil {
		return nil, fmt.Errorf("list webauthn credentials: %w", classify(err))
	}
	defer rows.Close()
	out := []auth.WebAuthnCredential{}
	for rows.Next() {
		var c auth.WebAuthnCredential
		var count, created, used int64
		var transports string
		if err := rows.Scan(&c.ID, &c.UserID, &c.CredentialID, &c.Name, &c.PublicKey, &count, &c.AAGUID, &transports,
			&c.AttestationFormat, &c.UserVerified, &c.BackupEligible, &c.BackupState, &created, &used); err != nil {
			return nil, fmt.Errorf("list webauthn credentials: %w", classify(err))
		}
		c.SignCount, c.CreatedAt, c.LastUsedAt = uint32(count), fromMicros(created), fromMicros(used)
		if transports != "" {
			c.Transports = strings.Split(transports, ",")
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list webauthn credentials: %w", classify(err))
	}
	return out, nil
}

// UseWebAuthnCredential implements auth.WebAuthnStore.
func (db *DB) UseWebAuthnCredential(ctx context.Context, id string, signCount uint32, userVerified, backupEligible, backupState bool, at time.Time, rotate *auth.SessionRotation) (bool, error) {
	n := int64(signCount)
	return db.withRotation(ctx, "use webauthn credential", rotate, stmt{`UPDATE webauthn_credentials
		SET sign_count = ?, user_verified = ?, backup_state = ?, last_used_at = ?
		WHERE id = ? AND backup_eligible = ? AND (sign_count < ? OR (sign_count = 0 AND ? = 0))`,
		[]any{n, userVerified, backupState, micros(at), id, backupEligible, n, n}})
}

// DeleteWebAuthnCredential implements auth.WebAuthnStore.
func (db *DB) DeleteWebAuthnCredential(ctx context.Context, userID, id string) error {
	return db.execOne(ctx, "delete webauthn credential", "DELETE FROM webauthn_credentials WHERE user_id = ? AND id = ?", userID, id)
}
