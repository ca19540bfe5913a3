package auth

import (
	"context"
	"errors"
)

// EventPasswordChanged is recorded when a user changes their password (an
// addition to the event types of SPEC §4).
const EventPasswordChanged = "password.changed"

// ChangePassword replaces u's password after checking the current one. It
// ends every other session of u, forgets u's trusted devices, alerts u, and
// gives this session a new token, which it returns.
// Codes: reauthentication_required, invalid_request, invalid_credentials,
// rate_limited, unauthenticated.
func (s *Service) ChangePassword(ctx context.Context, c Client, sess Session, u User, current, next string) (string, error) {
	if err := s.requireRecent(sess); err != nil {
		return "", err
	}
	if current == "" {
		return "", Errorf(CodeInvalidRequest, "current_password is required")
	}
	if err := checkPassword(next); err != nil {
		return "", Errorf(CodeInvalidRequest, "the new password must be %d to %d characters", MinPasswordLen, MaxPasswordLen)
	}
	// A wrong current password counts like a wrong login password.
	if err := s.limit(s.authLimit, IPRateKey(c.IP)); err != nil {
		return "", err
	}
	if err := s.limit(s.loginLimit, "email:"+u.Email); err != nil {
		return "", err
	}
	ok, _, err := s.hasher.Verify(ctx, current, u.PasswordHash)
	if err != nil {
		return "", s.internal(ctx, "verify password", err)
	}
	if !ok {
		s.record(ctx, c, EventLoginFailed, u.ID, map[string]any{"reason": "wrong_password", "purpose": "change_password"})
		return "", Errorf(CodeInvalidCredentials, "the current password is wrong")
	}
	s.loginLimit.Refund("email:" + u.Email)
	hash, err := s.hasher.Hash(ctx, next)
	if err != nil {
		return "", s.internal(ctx, "hash password", err)
	}
	// From here on the change is made: finish it even if the client hangs up.
	// The order matters: the new hash before the sessions are ended (a login
	// racing this change relies on it, see passwordStands), the sessions
	// before the devices (a device trusted meanwhile, see deviceStands).
	ctx = context.WithoutCancel(ctx)
	if err := s.store.SetPasswordHash(ctx, u.ID, hash); err != nil {
		if errors.Is(err, ErrNotFound) {
			return "", errUnauthenticated
		}
		return "", s.internal(ctx, "set password hash", err)
	}
	if err := s.store.DeleteUserSessions(ctx, u.ID, sess.ID); err != nil {
		return "", s.internal(ctx, "end other sessions", err)
	}
	if err := s.revokeDevices(ctx, c, u, sess.ID, "password_changed"); err != nil {
		return "", err
	}
	s.record(ctx, c, EventPasswordChanged, u.ID, nil)
	s.RaiseAlert(ctx, u, c, Alert{Type: EventPasswordChanged, Subject: "Your password was changed", What: "Your password was changed; every other session was signed out and remembered devices were forgotten"})
	return s.rotate(ctx, sess)
}
