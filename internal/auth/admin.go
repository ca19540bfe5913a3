package auth

import (
	"context"
	"errors"
	"time"
)

// FindUser returns the user with this email. Codes: invalid_request, not_found.
func (s *Service) FindUser(ctx context.Context, email string) (User, error) {
	norm, err := NormalizeEmail(email)
	if err != nil {
		return User{}, err
	}
	u, err := s.store.UserByEmail(ctx, norm)
	if errors.Is(err, ErrNotFound) {
		return User{}, Errorf(CodeNotFound, "no user with that email")
	}
	if err != nil {
		return User{}, s.internal(ctx, "find user", err)
	}
	return u, nil
}

// ListUsers lists accounts with their second factors: the one with email
// when email is set (none when there is no such user), else every user with
// an id after afterID, in creation order, at most limit (1..1000, default 100).
// Code: invalid_request.
func (s *Service) ListUsers(ctx context.Context, email, afterID string, limit int) ([]Profile, error) {
	var users []User
	if email != "" {
		u, err := s.FindUser(ctx, email)
		if ErrorCode(err) == CodeNotFound {
			return []Profile{}, nil
		}
		if err != nil {
			return nil, err
		}
		users = []User{u}
	} else {
		if limit <= 0 {
			limit = 100
		}
		var err error
		if users, err = s.store.ListUsers(ctx, afterID, min(limit, 1000)); err != nil {
			return nil, s.internal(ctx, "list users", err)
		}
	}
	out := make([]Profile, 0, len(users))
	for _, u := range users {
		p, err := s.Profile(ctx, u)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// userByID finds a user for an administrative action. Code: not_found.
func (s *Service) userByID(ctx context.Context, id string) (User, error) {
	if !IsID(id) {
		return User{}, Errorf(CodeNotFound, "no such user")
	}
	u, err := s.store.UserByID(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return User{}, Errorf(CodeNotFound, "no such user")
	}
	if err != nil {
		return User{}, s.internal(ctx, "find user", err)
	}
	return u, nil
}

// ResetTwoFactor is the administrator's way back in for a user who lost
// their second factor: every factor, pending setup, backup code and trusted
// device of the user is removed and the failure count cleared, so the
// password alone signs in until they enrol again. The user is alerted.
// Code: not_found.
func (s *Service) ResetTwoFactor(ctx context.Context, c Client, userID string) error {
	u, err := s.userByID(ctx, userID)
	if err != nil {
		return err
	}
	ctx = context.WithoutCancel(ctx)
	if err := s.revokeDevices(ctx, c, u, "", "admin_reset"); err != nil {
		return err
	}
	if err := s.store.DeleteSecondFactors(ctx, u.ID); err != nil {
		return s.internal(ctx, "delete second factors", err)
	}
	if err := s.store.ClearAttempts(ctx, u.ID); err != nil && !errors.Is(err, ErrNotFound) {
		return s.internal(ctx, "clear attempts", err)
	}
	s.record(ctx, c, EventAdminReset2FA, u.ID, nil)
	s.RaiseAlert(ctx, u, c, Alert{Type: EventAdminReset2FA, Subject: "Two-factor sign-in was reset", What: "An administrator removed every second factor, backup code and remembered device from your account; sign in with your password and add a second factor again"})
	return nil
}

// Unlock lifts a user's second-factor lockout and clears the count of
// consecutive failures, so the next right code gets through at once.
// Code: not_found.
func (s *Service) Unlock(ctx context.Context, c Client, userID string) error {
	u, err := s.userByID(ctx, userID)
	if err != nil {
		return err
	}
	if err := s.store.ClearAttempts(ctx, u.ID); err != nil {
		if errors.Is(err, ErrNotFound) {
			return Errorf(CodeNotFound, "no such user")
		}
		return s.internal(ctx, "clear attempts", err)
	}
	s.record(ctx, c, EventAdminUnlocked, u.ID, map[string]any{
		"failed_attempts": u.FailedAttempts,
		"was_locked":      u.LockedUntil.After(s.now()),
	})
	return nil
}

// Locked reports whether u's second-factor sign-in is locked now.
func (s *Service) Locked(u User) (bool, time.Time) {
	return u.LockedUntil.After(s.now()), u.LockedUntil
}
