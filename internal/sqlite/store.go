package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/twofold-auth/twofold/internal/auth"
)

var _ auth.Store = (*DB)(nil)

const userCols = "id, email, password_hash, created_at, failed_attempts, locked_until"

func scanUser(row interface{ Scan(...any) error }) (auth.User, error) {
	var u auth.User
	var created, locked int64
	if err := row.Scan(&u.ID, &u.Email, &u.PasswordHash, &created, &u.FailedAttempts, &locked); err != nil {
		return auth.User{}, classify(err)
	}
	u.CreatedAt, u.LockedUntil = fromMicros(created), fromMicros(locked)
	return u, nil
}

// CreateUser implements auth.Users.
func (db *DB) CreateUser(ctx context.Context, u auth.User) error {
	_, err := db.write.ExecContext(ctx, "INSERT INTO users (id, email, password_hash, created_at) VALUES (?, ?, ?, ?)",
		u.ID, u.Email, u.PasswordHash, micros(u.CreatedAt))
	if err != nil {
		return fmt.Errorf("create user: %w", classify(err))
	}
	return nil
}

// UserByEmail implements auth.Users.
func (db *DB) UserByEmail(ctx context.Context, email string) (auth.User, error) {
	u, err := scanUser(db.read.QueryRowContext(ctx, "SELECT "+userCols+" FROM users WHERE email = ?", email))
	if err != nil {
		return auth.User{}, fmt.Errorf("user by email: %w", err)
	}
	return u, nil
}

// UserByID implements auth.Users.
func (db *DB) UserByID(ctx context.Context, id string) (auth.User, error) {
	u, err := scanUser(db.read.QueryRowContext(ctx, "SELECT "+userCols+" FROM users WHERE id = ?", id))
	if err != nil {
		return auth.User{}, fmt.Errorf("user by id: %w", err)
	}
	return u, nil
}

// SetPasswordHash implements auth.Users.
func (db *DB) SetPasswordHash(ctx context.Context, userID, hash string) error {
	return db.execOne(ctx, "set password hash", "UPDATE users SET password_hash = ? WHERE id = ?", hash, userID)
}

// SetPasswordHashIf implements auth.Users.
func (db *DB) SetPasswordHashIf(ctx context.Context, userID, oldHash, newHash string) (bool, error) {
	res, err := db.write.ExecContext(ctx, "UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?", newHash, userID, oldHash)
	return changed(res, err, "set password hash if unchanged")
}

const sessionCols = "id, token_hash, user_id, state, created_at, last_seen_at, auth_at, ip, user_agent"

// CreateSession implements auth.Sessions.
func (db *DB) CreateSession(ctx context.Context, s auth.Session) error {
	_, err := db.write.ExecContext(ctx, "INSERT INTO sessions ("+sessionCols+", device_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		s.ID, s.TokenHash, s.UserID, string(s.State), micros(s.CreatedAt), micros(s.LastSeenAt), micros(s.AuthAt), s.IP, s.UserAgent, nullable(s.DeviceID))
	if err != nil {
		if isForeignKey(err) {
			return fmt.Errorf("create session: %w: %v", auth.ErrNotFound, err)
		}
		return fmt.Errorf("create session: %w", classify(err))
	}
	return nil
}

// SessionByTokenHash implements auth.Sessions.
func (db *DB) SessionByTokenHash(ctx context.Context, tokenHash string) (auth.Session, error) {
	var s auth.Session
	var state string
	var created, seen, authAt int64
	err := db.read.QueryRowContext(ctx, "SELECT "+sessionCols+" FROM sessions WHERE token_hash = ?", tokenHash).
		Scan(&s.ID, &s.TokenHash, &s.UserID, &state, &created, &seen, &authAt, &s.IP, &s.UserAgent)
	if err != nil {
		return auth.Session{}, fmt.Errorf("session by token: %w", classify(err))
	}
	s.State = auth.SessionState(state)
	s.CreatedAt, s.LastSeenAt, s.AuthAt = fromMicros(created), fromMicros(seen), fromMicros(authAt)
	return s, nil
}

// SessionAndUser implements auth.Sessions: one row per authenticator app
// of a pending session's user (one row with none), the session and user
// repeated on each.
func (db *DB) SessionAndUser(ctx context.Context, tokenHash string) (auth.Session, auth.User, []auth.TOTPAuthenticator, error) {
	rows, err := db.read.QueryContext(ctx, "SELECT s.id, s.token_hash, s.user_id, s.state, s.created_at, s.last_seen_at, s.auth_at, s.ip, s.user_agent, "+
		"u.email, u.password_hash, u.created_at, u.failed_attempts, u.locked_until, "+
		"a.id, a.name, a.secret, a.algorithm, a.digits, a.period, a.last_step, a.created_at, a.last_used_at "+
		"FROM sessions s JOIN users u ON u.id = s.user_id "+
		"LEFT JOIN totp_authenticators a ON a.user_id = s.user_id AND s.state = 'pending' "+
		"WHERE s.token_hash = ?", tokenHash) // ordered below: ORDER BY would cost a sorter per query
	if err != nil {
		return auth.Session{}, auth.User{}, nil, fmt.Errorf("session and user by token: %w", classify(err))
	}
	defer rows.Close()
	var s auth.Session
	var u auth.User
	var auths []auth.TOTPAuthenticator
	found := false
	for rows.Next() {
		var state string
		var created, seen, authAt, userCreated, locked int64
		var aID, aName, aSecret, aAlg sql.NullString
		var aDigits, aPeriod, aStep, aCreated, aUsed sql.NullInt64
		if err := rows.Scan(&s.ID, &s.TokenHash, &s.UserID, &state, &created, &seen, &authAt, &s.IP, &s.UserAgent,
			&u.Email, &u.PasswordHash, &userCreated, &u.FailedAttempts, &locked,
			&aID, &aName, &aSecret, &aAlg, &aDigits, &aPeriod, &aStep, &aCreated, &aUsed); err != nil {
			return auth.Session{}, auth.User{}, nil, fmt.Errorf("session and user by token: %w", classify(err))
		}
		found = true
		s.State = auth.SessionState(state)
		s.CreatedAt, s.LastSeenAt, s.AuthAt = fromMicros(created), fromMicros(seen), fromMicros(authAt)
		u.ID, u.CreatedAt, u.LockedUntil = s.UserID, fromMicros(userCreated), fromMicros(locked)
		if aID.Valid {
			auths = append(auths, auth.TOTPAuthenticator{ID: aID.String, UserID: s.UserID, Name: aName.String, Secret: aSecret.String,
				Algorithm: aAlg.String, Digits: int(aDigits.Int64), Period: int(aPeriod.Int64), LastStep: aStep.Int64,
				CreatedAt: fromMicros(aCreated.Int64), LastUsedAt: fromMicros(aUsed.Int64)})
		}
	}
	if err := rows.Err(); err != nil {
		return auth.Session{}, auth.User{}, nil, fmt.Errorf("session and user by token: %w", classify(err))
	}
	if !found {
		return auth.Session{}, auth.User{}, nil, fmt.Errorf("session and user by token: %w", auth.ErrNotFound)
	}
	if s.State == auth.StatePending && auths == nil {
		auths = []auth.TOTPAuthenticator{}
	}
	slices.SortFunc(auths, func(a, b auth.TOTPAuthenticator) int { return strings.Compare(a.ID, b.ID) })
	return s, u, auths, nil
}

// RotateSession implements auth.Sessions.
func (db *DB) RotateSession(ctx context.Context, oldHash string, next auth.Session) error {
	st := rotateSession(oldHash, next)
	return db.execOne(ctx, "rotate session", st.query, st.args...)
}

// rotateSession is the statement of RotateSession.
func rotateSession(oldHash string, next auth.Session) stmt {
	return stmt{"UPDATE sessions SET token_hash = ?, state = ?, auth_at = ?, last_seen_at = ? WHERE id = ? AND token_hash = ?",
		[]any{next.TokenHash, string(next.State), micros(next.AuthAt), micros(next.LastSeenAt), next.ID, oldHash}}
}

// TouchSession implements auth.Sessions.
func (db *DB) TouchSession(ctx context.Context, id string, at time.Time) error {
	_, err := db.write.ExecContext(ctx, "UPDATE sessions SET last_seen_at = ? WHERE id = ? AND last_seen_at < ?", micros(at), id, micros(at))
	if err != nil {
		return fmt.Errorf("touch session: %w", classify(err))
	}
	return nil
}

// DeleteSession implements auth.Sessions.
func (db *DB) DeleteSession(ctx context.Context, id string) error {
	if _, err := db.write.ExecContext(ctx, "DELETE FROM sessions WHERE id = ?", id); err != nil {
		return fmt.Errorf("delete session: %w", classify(err))
	}
	return nil
}

// DeleteUserSessions implements auth.Sessions.
func (db *DB) DeleteUserSessions(ctx context.Context, userID, exceptID string) error {
	if _, err := db.write.ExecContext(ctx, "DELETE FROM sessions WHERE user_id = ? AND id <> ?", userID, exceptID); err != nil {
		return fmt.Errorf("delete user sessions: %w", classify(err))
	}
	return nil
}

// DeleteExpiredSessions implements auth.Sessions.
func (db *DB) DeleteExpiredSessions(ctx context.Context, idleBefore, createdBefore time.Time) (int64, error) {
	res, err := db.write.ExecContext(ctx, "DELETE FROM sessions WHERE last_seen_at < ? OR created_at < ?", micros(idleBefore), micros(createdBefore))
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", classify(err))
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// AddEvent implements auth.Events.
func (db *DB) AddEvent(ctx context.Context, e auth.Event) error {
	st, err := eventInsert(e)
	if err != nil {
		return fmt.Errorf("add event: %w", err)
	}
	if _, err = db.write.ExecContext(ctx, st.query, st.args...); err != nil {
		return fmt.Errorf("add event: %w", classify(err))
	}
	return nil
}

// eventInsert is the statement that stores e.
func eventInsert(e auth.Event) (stmt, error) {
	detail, err := json.Marshal(e.Detail)
	if err != nil {
		return stmt{}, fmt.Errorf("encode event detail: %w", err)
	}
	return stmt{"INSERT INTO events (id, time, type, user_id, ip, user_agent, detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
		[]any{e.ID, micros(e.Time), e.Type, nullable(e.UserID), e.IP, e.UserAgent, string(detail)}}, nil
}

// Events implements auth.Events.
func (db *DB) Events(ctx context.Context, f auth.EventFilter) ([]auth.Event, error) {
	var where []string
	var args []any
	if f.UserID != "" {
		where, args = append(where, "user_id = ?"), append(args, f.UserID)
	}
	if f.Type != "" {
		where, args = append(where, "type = ?"), append(args, f.Type)
	}
	q := "SELECT id, time, type, user_id, ip, user_agent, detail FROM events"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id DESC LIMIT ?"
	args = append(args, f.Limit)
	rows, err := db.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", classify(err))
	}
	defer rows.Close()
	evs := []auth.Event{}
	for rows.Next() {
		var e auth.Event
		var t int64
		var uid sql.NullString
		var detail string
		if err := rows.Scan(&e.ID, &t, &e.Type, &uid, &e.IP, &e.UserAgent, &detail); err != nil {
			return nil, fmt.Errorf("list events: %w", classify(err))
		}
		e.Time, e.UserID = fromMicros(t), uid.String
		if err := json.Unmarshal([]byte(detail), &e.Detail); err != nil || e.Detail == nil {
			e.Detail = map[string]any{}
		}
		evs = append(evs, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list events: %w", classify(err))
	}
	return evs, nil
}

// execOne runs a write that must change exactly one row; auth.ErrNotFound when
// it changed none.
func (db *DB) execOne(ctx context.Context, doing, q string, args ...any) error {
	res, err := db.write.ExecContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("%s: %w", doing, classify(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: %w", doing, classify(err))
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", doing, auth.ErrNotFound)
	}
	return nil
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}
