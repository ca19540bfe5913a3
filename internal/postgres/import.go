package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/twofold-auth/twofold/internal/auth"
)

// ImportUsers implements auth.Importer: one transaction, a user skipped when
// its email is taken (ON CONFLICT also waits for a concurrent insert of the
// same email to commit or roll back).
func (db *DB) ImportUsers(ctx context.Context, users []auth.ImportedUser) ([]bool, error) {
	inserted := make([]bool, len(users))
	err := db.tx(ctx, "import users", func(tx pgx.Tx) error {
		for i, iu := range users {
			u := iu.User
			tag, err := tx.Exec(ctx, `INSERT INTO users (id, email, password_hash, created_at) VALUES ($1, $2, $3, $4)
				ON CONFLICT (email) DO NOTHING`, u.ID, u.Email, u.PasswordHash, micros(u.CreatedAt))
			ok, err := changed(tag, err, "insert user")
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			inserted[i] = true
			for _, a := range iu.TOTP {
				if _, err := tx.Exec(ctx, `INSERT INTO totp_authenticators
					(id, user_id, name, secret, algorithm, digits, period, last_step, created_at, last_used_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
					a.ID, a.UserID, a.Name, a.Secret, a.Algorithm, a.Digits, a.Period, a.LastStep, micros(a.CreatedAt), micros(a.LastUsedAt)); err != nil {
					return fmt.Errorf("insert totp: %w", err)
				}
			}
			e := iu.Event
			detail, err := json.Marshal(e.Detail)
			if err != nil {
				return fmt.Errorf("encode event detail: %w", err)
			}
			if _, err := tx.Exec(ctx, "INSERT INTO events (id, time, type, user_id, ip, user_agent, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)",
				e.ID, micros(e.Time), e.Type, nullable(e.UserID), text(e.IP), text(e.UserAgent), string(detail)); err != nil {
				return fmt.Errorf("insert event: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return inserted, nil
}
