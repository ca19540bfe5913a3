package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/twofold-auth/twofold/internal/auth"
)

// PutWebAuthnChallenge implements auth.WebAuthnStore.
func (db *DB) PutWebAuthnChallenge(ctx context.Context, c auth.WebAuthnChallenge) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO webauthn_challenges (owner, kind, challenge, user_id, name, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6)
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
	err := db.pool.QueryRow(ctx, `DELETE FROM webauthn_challenges
		WHERE owner = $1 AND kind = $2 AND challenge = $3 AND expires_at > $4
		RETURNING user_id, name, expires_at`, owner, kind, challenge, micros(now)).Scan(&c.UserID, &c.Name, &expires)
	if err != nil {
		return auth.WebAuthnChallenge{}, fmt.Errorf("take webauthn challenge: %w", classify(err))
	}
	c.ExpiresAt = fromMicros(expires)
	return c, nil
}

// DeleteExpiredWebAuthnChallenges implements auth.WebAuthnStore.
func (db *DB) DeleteExpiredWebAuthnChallenges(ctx context.Context, now time.Time) (int64, error) {
	tag, err := db.pool.Exec(ctx, "DELETE FROM webauthn_challenges WHERE expires_at <= $1", micros(now))
	if err != nil {
		return 0, fmt.Errorf("delete expired webauthn challenges: %w", classify(err))
	}
	return tag.RowsAffected(), nil
}

const webauthnCols = `id, user_id, credential_id, name, public_key, sign_count, aaguid, transports, attestation_fmt,
	user_verified, backup_eligible, backup_state, created_at, last_used_at`

// AddWebAuthnCredential implements auth.WebAuthnStore.
func (db *DB) AddWebAuthnCredential(ctx context.Context, c auth.WebAuthnCredential, backupHashes []string, now time.Time, max int) error {
	return db.tx(ctx, "add webauthn credential", func(tx pgx.Tx) error {
		if err := lockUser(ctx, tx, c.UserID); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM webauthn_credentials WHERE user_id = $1", c.UserID).Scan(&n); err != nil {
			return err
		}
		if n >= max {
			return auth.ErrLimit
		}
		if _, err := tx.Exec(ctx, "INSERT INTO webauthn_credentials ("+webauthnCols+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
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
	rows, err := db.pool.Query(ctx, "SELECT "+webauthnCols+" FROM webauthn_credentials WHERE user_id = $1 ORDER BY id", userID)
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
	return db.withRotation(ctx, "use webauthn credential", rotate, `UPDATE webauthn_credentials
		SET sign_count = $1, user_verified = $2, backup_state = $3, last_used_at = $4
		WHERE id = $5 AND backup_eligible = $6 AND (sign_count < $7 OR (sign_count = 0 AND $8 = 0))`,
		n, userVerified, backupState, micros(at), id, backupEligible, n, n)
}

// DeleteWebAuthnCredential implements auth.WebAuthnStore.
func (db *DB) DeleteWebAuthnCredential(ctx context.Context, userID, id string) error {
	return db.execOne(ctx, "delete webauthn credential", "DELETE FROM webauthn_credentials WHERE user_id = $1 AND id = $2", userID, id)
}
