package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/twofold-auth/twofold/internal/auth"
)

// ImportUsers implements auth.Importer: one transaction, prepared
// statements, a user skipped when its email is taken.
func (db *DB) ImportUsers(ctx context.Context, users []auth.ImportedUser) ([]bool, error) {
	inserted := make([]bool, len(users))
	err := db.tx(ctx, "import users", func(tx *sql.Tx) error {
		insUser, err := tx.PrepareContext(ctx, `INSERT INTO users (id, email, password_hash, created_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (email) DO NOTHING`)
		if err != nil {
			return err
		}
		defer insUser.Close()
		insTOTP, err := tx.PrepareContext(ctx, `INSERT INTO totp_authenticators
			(id, user_id, name, secret, algorithm, digits, period, last_step, created_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer insTOTP.Close()
		insEvent, err := tx.PrepareContext(ctx, "INSERT INTO events (id, time, type, user_id, ip, user_agent, detail) VALUES (?, ?, ?, ?, ?, ?, ?)")
		if err != nil {
			return err
		}
		defer insEvent.Close()
		for i, iu := range users {
			u := iu.User
			res, err := insUser.ExecContext(ctx, u.ID, u.Email, u.PasswordHash, micros(u.CreatedAt))
			ok, err := changed(res, err, "insert user")
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			inserted[i] = true
			for _, a := range iu.TOTP {
				if _, err := insTOTP.ExecContext(ctx, a.ID, a.UserID, a.Name, a.Secret, a.Algorithm, a.Digits, a.Period, a.LastStep,
					micros(a.CreatedAt), micros(a.LastUsedAt)); err != nil {
					return fmt.Errorf("insert totp: %w", err)
				}
			}
			e := iu.Event
			detail, err := json.Marshal(e.Detail)
			if err != nil {
				return fmt.Errorf("encode event detail: %w", err)
			}
			if _, err := insEvent.ExecContext(ctx, e.ID, micros(e.Time), e.Type, nullable(e.UserID), e.IP, e.UserAgent, string(detail)); err != nil {
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
