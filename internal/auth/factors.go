package auth

import (
	"context"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/twofold-auth/twofold/internal/backupcode"
	"github.com/twofold-auth/twofold/internal/totp"
)

// maxLockout caps the doubling lockout (SPEC §4).
const maxLockout = 24 * time.Hour

// The second-factor method names of the API.
const (
	MethodTOTP       = "totp"
	MethodWebAuthn   = "webauthn"
	MethodSMS        = "sms"
	MethodBackupCode = "backup_code"
)

// TOTPSetup is what a user needs to add an authenticator app.
type TOTPSetup struct {
	URI       string
	ManualKey string
	// QRCode is a data:image/png;base64 URI of a QR code of URI.
	QRCode string
}

// SetupTOTP starts adding an authenticator app: a new 160-bit secret, kept
// sealed and pending until ConfirmTOTP; it replaces any pending setup.
// Codes: invalid_request.
func (s *Service) SetupTOTP(ctx context.Context, sess Session, u User, name string) (TOTPSetup, error) {
	// A stolen session must not bind its own authenticator to the account.
	if err := s.requireRecent(sess); err != nil {
		return TOTPSetup{}, err
	}
	name, err := methodName(name, "Authenticator app")
	if err != nil {
		return TOTPSetup{}, err
	}
	secret, err := totp.NewSecret(s.rand)
	if err != nil {
		return TOTPSetup{}, s.internal(ctx, "new totp secret", err)
	}
	now := s.now()
	p := PendingTOTP{ID: s.newID(now), UserID: u.ID, Name: name, CreatedAt: now}
	if p.Secret, err = s.keys.seal(secret, "totp:"+p.ID); err != nil {
		return TOTPSetup{}, s.internal(ctx, "seal totp secret", err)
	}
	if err := s.store.PutPendingTOTP(ctx, p); err != nil {
		return TOTPSetup{}, s.internal(ctx, "store pending totp", err)
	}
	return s.totpSetup(ctx, u, secret)
}

// Enabled is the outcome of confirming a new second factor.
type Enabled struct {
	Method Method
	// BackupCodes is set (10 codes, shown once) when this was the user's
	// first second factor.
	BackupCodes []string
}

// pendingTOTPLifetime is how long an authenticator-app setup may wait for
// its confirming code.
const pendingTOTPLifetime = 15 * time.Minute

// ConfirmTOTP checks a code from the pending authenticator app and enables
// it. The code's time step counts as used. Like starting a setup it needs
// recent authentication, and guesses are bounded by the per-IP verify limit
// and the setup's lifetime: otherwise a session too old to start its own
// setup could guess its way into finishing an abandoned one (and receive the
// backup codes). Codes: invalid_request (no setup in progress, or expired),
// invalid_code (400), reauthentication_required, rate_limited.
func (s *Service) ConfirmTOTP(ctx context.Context, c Client, sess Session, u User, code string) (Enabled, error) {
	badCode := &Error{Code: CodeInvalidCode, Message: "that code is not valid: enter the current code from your app", Setup: true}
	if err := s.requireRecent(sess); err != nil {
		return Enabled{}, err
	}
	if err := s.limit(s.verifyLimit, IPRateKey(c.IP)); err != nil {
		return Enabled{}, err
	}
	p, err := s.store.PendingTOTP(ctx, u.ID)
	if errors.Is(err, ErrNotFound) {
		return Enabled{}, Errorf(CodeInvalidRequest, "no authenticator app is being set up: start a new setup")
	}
	if err != nil {
		return Enabled{}, s.internal(ctx, "find pending totp", err)
	}
	if s.now().Sub(p.CreatedAt) > pendingTOTPLifetime {
		return Enabled{}, Errorf(CodeInvalidRequest, "this setup has expired: start a new one")
	}
	secret, err := s.keys.open(p.Secret, "totp:"+p.ID)
	if err != nil {
		return Enabled{}, s.internal(ctx, "open pending totp secret", err)
	}
	now := s.now()
	step, ok := totp.Verify(secret, cleanCode(code), now, s.skew, totp.Default)
	if !ok {
		s.record(ctx, c, Event2FAFailed, u.ID, map[string]any{"method": MethodTOTP, "purpose": "setup"})
		return Enabled{}, badCode
	}
	first, err := s.isFirstFactor(ctx, u.ID)
	if err != nil {
		return Enabled{}, err
	}
	var codes, hashes []string
	if first {
		if codes, hashes, err = s.newBackupCodes(ctx); err != nil {
			return Enabled{}, err
		}
	}
	a := TOTPAuthenticator{
		ID: p.ID, UserID: u.ID, Name: p.Name, Secret: p.Secret,
		Algorithm: totp.Default.Algorithm.String(), Digits: totp.Default.Digits, Period: totp.Default.Period,
		LastStep: step, CreatedAt: now,
	}
	if err := s.store.ConfirmTOTP(ctx, a, hashes, now); err != nil {
		if errors.Is(err, ErrNotFound) {
			return Enabled{}, badCode // confirmed or replaced by a concurrent request
		}
		return Enabled{}, s.internal(ctx, "confirm totp", err)
	}
	s.record(ctx, c, EventTOTPEnabled, u.ID, map[string]any{"id": a.ID, "name": a.Name})
	if first {
		s.record(ctx, c, EventBackupCodesGenerated, u.ID, map[string]any{"count": len(codes)})
	}
	s.RaiseAlert(ctx, u, c, Alert{Type: EventTOTPEnabled, Subject: "New authenticator app added",
		What: "An authenticator app was added as a second factor", Detail: map[string]any{"id": a.ID, "name": a.Name}})
	return Enabled{Method: Method{ID: a.ID, Name: a.Name, CreatedAt: a.CreatedAt}, BackupCodes: codes}, nil
}

// VerifySecondFactor finishes a login: it checks a code for a pending
// session and, on success, makes the session authenticated under a new
// token. Codes: invalid_request, invalid_code, locked, rate_limited, unauthenticated.
func (s *Service) VerifySecondFactor(ctx context.Context, c Client, sess Session, u User, method, code string) (string, error) {
	// The new token is made up front so that using a code up and rotating
	// the session are one write.
	tok, rotation, err := s.rotation(ctx, sess)
	if err != nil {
		return "", err
	}
	rotated, err := s.checkSecondFactor(ctx, c, sess, u, method, code, "login", rotation)
	if err != nil {
		return "", err
	}
	if !rotated {
		return "", s.internal(ctx, "verify second factor", errNotRotated)
	}
	s.signedIn(ctx, c, u)
	return tok, nil
}

// errNotRotated: a check succeeded without the rotation it was given (a
// bug; refused rather than answered with a token that was never stored).
var errNotRotated = errors.New("code accepted without the session's rotation")

// checkSecondFactor is every second-factor attempt: lockout first, then the
// per-IP limit, then a claimed attempt, then the code itself. A TOTP code is
// checked first, as that needs no write (totpAttempt): one that matches no
// unused time step is a failure whatever else happens, so claiming the
// attempt and recording it is one write (failedAttempt); one that matches
// is used up, the count cleared and the success recorded in one write while
// nothing changed since the read, and otherwise claimed first as above.
//
// rotate, when not nil, is the session rotation that goes with a success:
// it is made in the same write as the code is used up (an app's time step,
// a backup code, an SMS code), so that of two right codes sent at once for
// one session only one is used up and succeeds. rotated says it was made:
// true on every success when rotate was given.
func (s *Service) checkSecondFactor(ctx context.Context, c Client, sess Session, u User, method, code, purpose string, rotate *SessionRotation) (rotated bool, err error) {
	// A check uses its code up with the rotation (when not nil) in one
	// write: a success has rotated the session exactly when rotate was given.
	var check func(ctx context.Context, c Client, u User, code string, rotate *SessionRotation) (bool, error)
	switch method {
	case MethodTOTP:
		// below, with the authenticators
	case MethodBackupCode:
		check = s.checkBackupCode
	case MethodSMS:
		check = func(ctx context.Context, _ Client, _ User, code string, rotate *SessionRotation) (bool, error) {
			return s.checkSMS(ctx, sess, code, rotate)
		}
	default:
		return false, Errorf(CodeInvalidRequest, "method must be one of totp, backup_code, sms (security keys use the WebAuthn endpoints)")
	}
	if strings.TrimSpace(code) == "" || len(code) > 64 {
		return false, Errorf(CodeInvalidRequest, "code is required")
	}
	if method == MethodTOTP {
		return s.totpAttempt(ctx, c, sess, u, code, purpose, rotate)
	}
	methods, err := s.secondFactors(ctx, u.ID)
	if err != nil {
		return false, err
	}
	if !slices.Contains(methods, method) {
		return false, Errorf(CodeInvalidRequest, "%s is not a second factor of this account", method)
	}
	err = s.attempt(ctx, c, u, method, purpose, func(ctx context.Context) (bool, error) { return check(ctx, c, u, code, rotate) })
	return err == nil && rotate != nil, err
}

// totpAttempt is checkSecondFactor for an authenticator app's code.
func (s *Service) totpAttempt(ctx context.Context, c Client, sess Session, u User, code, purpose string, rotate *SessionRotation) (rotated bool, err error) {
	// The authenticators alone say whether TOTP is a factor of the account,
	// and the check reuses them (four reads fewer than the profile;
	// UseTOTPStep's compare-and-set decides, so a list read before the
	// attempt is claimed is as good as one read after). A pending session
	// comes with them, read with the session.
	auths := sess.totp
	if auths == nil {
		if auths, err = s.store.TOTPAuthenticators(ctx, u.ID); err != nil {
			return false, s.internal(ctx, "list authenticators", err)
		}
	}
	if len(auths) == 0 {
		return false, Errorf(CodeInvalidRequest, "%s is not a second factor of this account", MethodTOTP)
	}
	if err := s.mayAttempt(c, u); err != nil {
		return false, err
	}
	matches, err := s.totpMatches(auths, code)
	if err != nil {
		return false, s.internal(ctx, "check totp", err)
	}
	if len(matches) == 0 {
		// Known to fail without a write (no unused time step matches): the
		// attempt is counted and recorded in one write.
		return false, s.failedAttempt(ctx, c, u, MethodTOTP, purpose)
	}
	// A match: while nothing has changed since the user was read, using the
	// step up, clearing the count and recording the success are one write.
	// Otherwise (a concurrent attempt claimed meanwhile, or used the step)
	// nothing was written and the attempt goes the long way: claimed first,
	// then the step used up if it still can be.
	for _, m := range matches {
		ev := s.newEvent(c, Event2FASucceeded, u.ID, map[string]any{"method": MethodTOTP, "purpose": purpose})
		won, err := s.store.SucceedTOTP(ctx, u.ID, u.FailedAttempts, u.LockedUntil, m.id, m.step, s.now(), rotate, ev)
		if err != nil {
			return false, s.internal(ctx, "use totp step", err)
		}
		if won {
			s.recorded(ev)
			return rotate != nil, nil
		}
	}
	// The user as read is stale now: the claim starts from a fresh read, so
	// a right code costs what a wrong one does when the account was locked
	// meanwhile (one lost write, one read, then locked).
	err = s.claimedAttempt(ctx, c, u, true, MethodTOTP, purpose, func(ctx context.Context) (bool, error) { return s.useTOTPStep(ctx, matches, rotate) })
	return err == nil && rotate != nil, err
}

// attempt runs one second-factor check under the lockout rules of SPEC §4.
// The attempt is counted (and, at the threshold, the account locked) before
// the check runs, so concurrent guesses on any instance can never exceed the
// threshold; a success then resets the count.
func (s *Service) attempt(ctx context.Context, c Client, u User, method, purpose string, check func(context.Context) (bool, error)) error {
	if err := s.mayAttempt(c, u); err != nil {
		return err
	}
	return s.claimedAttempt(ctx, c, u, false, method, purpose, check)
}

// claimedAttempt is attempt once mayAttempt has let it through; stale says
// that u may have changed since it was read. check gets a context that
// does not end when the client hangs up.
//
// A check that finds the code right but the session rotated meanwhile
// (ErrSessionRotated: a concurrent right code signed in first) used
// nothing up: the attempt is not a failure, so its count is cleared as a
// success's would be, nothing is recorded, and the answer is that of a
// session that is gone.
func (s *Service) claimedAttempt(ctx context.Context, c Client, u User, stale bool, method, purpose string, check func(context.Context) (bool, error)) error {
	n, until, _, err := s.claimAttempt(ctx, u, stale, nil)
	if err != nil {
		return err
	}
	// The attempt is counted: finish it (events, alert, reset) even if the
	// client hangs up now.
	ctx = context.WithoutCancel(ctx)
	ok, err := check(ctx)
	if errors.Is(err, ErrSessionRotated) {
		s.resetAttempts(ctx, u.ID, n, until)
		return errUnauthenticated
	}
	if err != nil {
		return s.internal(ctx, "check "+method, err)
	}
	if ok {
		s.resetAttempts(ctx, u.ID, n, until)
		s.record(ctx, c, Event2FASucceeded, u.ID, map[string]any{"method": method, "purpose": purpose})
		return nil
	}
	s.storeEvents(ctx, s.failureEvents(c, u, method, purpose, n))
	s.failed(ctx, c, u, n)
	return errInvalidCode
}

// resetAttempts clears the count after a right code, but only what this
// attempt claimed (n, until): failures others claimed since (an attacker
// racing a real login) still count. A failure is logged, not returned:
// after a success the code is used up and the session rotated, so the
// sign-in stands; after a right code that lost the rotation the answer is
// 401 whatever the count.
func (s *Service) resetAttempts(ctx context.Context, userID string, n int, until time.Time) {
	if err := s.store.ResetAttempts(ctx, userID, n, until); err != nil {
		s.log.ErrorContext(ctx, "reset attempts", "user_id", userID, "err", err)
	}
}

// storeEvents appends events made earlier; a failure is logged.
func (s *Service) storeEvents(ctx context.Context, events []Event) {
	for _, e := range events {
		if err := s.store.AddEvent(ctx, e); err != nil {
			s.log.ErrorContext(ctx, "record event", "type", e.Type, "err", err)
		}
		s.recorded(e)
	}
}

// failedAttempt is claimedAttempt for a check already known to fail
// without a write of its own: the count and the failure's events are one
// write.
func (s *Service) failedAttempt(ctx context.Context, c Client, u User, method, purpose string) error {
	var events []Event
	n, _, stored, err := s.claimAttempt(ctx, u, false, func(n int) []Event {
		events = s.failureEvents(c, u, method, purpose, n)
		return events
	})
	if err != nil {
		return err
	}
	ctx = context.WithoutCancel(ctx)
	if stored {
		for _, e := range events {
			s.recorded(e)
		}
	} else {
		s.storeEvents(ctx, events)
	}
	s.failed(ctx, c, u, n)
	return errInvalidCode
}

// mayAttempt refuses an attempt while u (as read) is locked, or over the
// per-IP limit.
func (s *Service) mayAttempt(c Client, u User) error {
	if now := s.now(); u.LockedUntil.After(now) {
		return s.lockedError(u.LockedUntil, now)
	}
	return s.limit(s.verifyLimit, IPRateKey(c.IP))
}

// failureEvents are the events of the n-th consecutive failure: 2fa.failed,
// and 2fa.locked when it starts a lockout.
func (s *Service) failureEvents(c Client, u User, method, purpose string, n int) []Event {
	events := []Event{s.newEvent(c, Event2FAFailed, u.ID, map[string]any{"method": method, "purpose": purpose, "consecutive_failures": n})}
	if n >= s.threshold {
		d := s.lockoutFor(n)
		events = append(events, s.newEvent(c, Event2FALocked, u.ID, map[string]any{"consecutive_failures": n, "seconds": int(d.Seconds())}))
	}
	return events
}

// failed alerts the user when the n-th consecutive failure started a lockout.
func (s *Service) failed(ctx context.Context, c Client, u User, n int) {
	if n < s.threshold {
		return
	}
	d := s.lockoutFor(n)
	s.RaiseAlert(ctx, u, c, Alert{Type: Event2FALocked, Subject: "Your account is locked",
		What:   "Too many wrong second-factor codes were entered, so second-factor sign-in is locked for " + d.String(),
		Detail: map[string]any{"consecutive_failures": n, "seconds": int(d.Seconds())}})
}

// claimAttempt counts one attempt for userID by compare-and-set and returns
// the new count of consecutive failures (this attempt included) and the
// lockout end it set (zero below the threshold). When the
// count reaches the threshold the lockout starts now; a success lifts it.
// Codes: locked.
//
// The first try compares against known, the user as the request read it
// (no read of its own); when that is stale the compare-and-set fails and
// each further try reads the user afresh (the first too when stale).
//
// events, when not nil, gives the events to store with the claim, for the
// count it would claim; stored says whether they were. They are not when
// storing them failed: the attempt is then counted without them (a failure
// must count whatever else breaks), and the caller records them itself.
//
// The claim runs to its end even if the client hangs up (up to
// claimTimeout), so what it did is known and followed up.
func (s *Service) claimAttempt(ctx context.Context, known User, stale bool, events func(n int) []Event) (n int, until time.Time, stored bool, err error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), claimTimeout)
	defer cancel()
	userID := known.ID
	for try := range 100 {
		u := known
		if try > 0 || stale {
			var err error
			if u, err = s.store.UserByID(ctx, userID); err != nil {
				return 0, time.Time{}, false, s.internal(ctx, "read attempts", err)
			}
		}
		now := s.now()
		if u.LockedUntil.After(now) {
			return 0, time.Time{}, false, s.lockedError(u.LockedUntil, now)
		}
		n := u.FailedAttempts + 1
		var until time.Time
		if n >= s.threshold {
			until = now.Add(s.lockoutFor(n))
		}
		var evs []Event
		if events != nil {
			evs = events(n)
		}
		won, err := s.store.ClaimAttempt(ctx, userID, u.FailedAttempts, u.LockedUntil, n, until, evs...)
		withEvents := len(evs) > 0
		if err != nil && withEvents {
			s.log.ErrorContext(ctx, "record event with attempt", "type", evs[0].Type, "err", err)
			won, err = s.store.ClaimAttempt(ctx, userID, u.FailedAttempts, u.LockedUntil, n, until)
			withEvents = false
		}
		if err != nil {
			return 0, time.Time{}, false, s.internal(ctx, "claim attempt", err)
		}
		if won {
			return n, until, withEvents, nil
		}
	}
	return 0, time.Time{}, false, Errorf(CodeRateLimited, "too many attempts at once: wait and try again")
}

// claimTimeout bounds a claim that goes on after its client has left.
const claimTimeout = 10 * time.Second

// lockoutFor is the lockout that the n-th consecutive failure starts: the
// configured duration at the threshold, doubling with each further failure,
// capped at 24 h.
func (s *Service) lockoutFor(n int) time.Duration {
	d := s.lockout
	for i := s.threshold; i < n && d < maxLockout; i++ {
		d *= 2
	}
	return min(d, maxLockout)
}

func (s *Service) lockedError(until, now time.Time) error {
	return &Error{
		Code:       CodeLocked,
		Message:    "too many wrong codes: second-factor sign-in is locked until " + until.UTC().Format(time.RFC3339),
		RetryAfter: until.Sub(now),
	}
}

// totpMatch is an authenticator app whose unused time step a code matches.
type totpMatch struct {
	id   string
	step int64
}

// totpMatches checks code against each of the user's authenticator apps,
// without a write: the apps with a time step that code matches and that
// has not been used yet.
func (s *Service) totpMatches(auths []TOTPAuthenticator, code string) ([]totpMatch, error) {
	code = cleanCode(code)
	now := s.now()
	var matches []totpMatch
	for _, a := range auths {
		secret, err := s.keys.open(a.Secret, "totp:"+a.ID)
		if err != nil {
			return nil, err
		}
		p := totp.Params{Algorithm: algorithm(a.Algorithm), Digits: a.Digits, Period: a.Period}
		if step, ok := totp.Verify(secret, code, now, s.skew, p); ok && step > a.LastStep {
			matches = append(matches, totpMatch{a.ID, step})
		}
	}
	return matches, nil
}

// useTOTPStep uses up the first matched time step that no one else has
// used meanwhile (at most once per authenticator, on any instance), with
// the session's rotation when rotate is not nil.
func (s *Service) useTOTPStep(ctx context.Context, matches []totpMatch, rotate *SessionRotation) (bool, error) {
	for _, m := range matches {
		used, err := s.store.UseTOTPStep(ctx, m.id, m.step, s.now(), rotate) // ErrSessionRotated ends it too
		if err != nil || used {
			return used, err
		}
	}
	return false, nil
}

// checkBackupCode uses up one of the user's backup codes, with the
// session's rotation when rotate is not nil.
func (s *Service) checkBackupCode(ctx context.Context, c Client, u User, code string, rotate *SessionRotation) (bool, error) {
	canon, ok := backupcode.Normalize(code)
	if !ok {
		return false, nil
	}
	key, err := s.backupKey(ctx)
	if err != nil {
		return false, err
	}
	used, err := s.store.UseBackupCode(ctx, u.ID, backupcode.Hash(key, canon), s.now(), rotate)
	if err != nil || !used {
		return false, err
	}
	left, _ := s.store.BackupCodesRemaining(ctx, u.ID)
	s.record(ctx, c, EventBackupCodeUsed, u.ID, map[string]any{"remaining": left})
	s.RaiseAlert(ctx, u, c, Alert{Type: EventBackupCodeUsed, Subject: "A backup code was used",
		What: "One of your backup codes was used to sign in (" + strconv.Itoa(left) + " left)", Detail: map[string]any{"remaining": left}})
	return true, nil
}

// RegenerateBackupCodes replaces the user's backup codes with 10 new ones.
// Codes: reauthentication_required, invalid_request (no second factor).
func (s *Service) RegenerateBackupCodes(ctx context.Context, c Client, sess Session, u User) ([]string, error) {
	if err := s.requireRecent(sess); err != nil {
		return nil, err
	}
	first, err := s.isFirstFactor(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	if first {
		return nil, Errorf(CodeInvalidRequest, "add a second factor first: backup codes come with it")
	}
	codes, hashes, err := s.newBackupCodes(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.store.ReplaceBackupCodes(ctx, u.ID, hashes, s.now()); err != nil {
		return nil, s.internal(ctx, "replace backup codes", err)
	}
	s.record(ctx, c, EventBackupCodesGenerated, u.ID, map[string]any{"count": len(codes)})
	return codes, nil
}

// RemoveTOTP removes one authenticator app. Removing the last second factor
// turns two-factor sign-in off. Codes: reauthentication_required, not_found.
func (s *Service) RemoveTOTP(ctx context.Context, c Client, sess Session, u User, id string) error {
	return s.removeFactor(ctx, c, sess, u, id, "authenticator app", EventTOTPRemoved, s.store.DeleteTOTP)
}

// removeFactor deletes one second factor of u with del (not_found when id is
// not one of theirs), records event, and turns two-factor sign-in off when
// it was the last. what names the factor in messages.
func (s *Service) removeFactor(ctx context.Context, c Client, sess Session, u User, id, what, event string,
	del func(ctx context.Context, userID, id string) error) error {
	if !IsID(id) {
		return Errorf(CodeNotFound, "no such %s", what)
	}
	if err := s.requireRecent(sess); err != nil {
		return err
	}
	if err := del(ctx, u.ID, id); err != nil {
		if errors.Is(err, ErrNotFound) {
			return Errorf(CodeNotFound, "no such %s", what)
		}
		return s.internal(ctx, "delete "+what, err)
	}
	s.record(ctx, c, event, u.ID, map[string]any{"id": id})
	last, err := s.isFirstFactor(ctx, u.ID)
	if err != nil || !last {
		return err
	}
	return s.disable(ctx, c, sess, u, "last second factor removed")
}

// DisableTwoFactor removes every second factor and backup code.
// Codes: reauthentication_required.
func (s *Service) DisableTwoFactor(ctx context.Context, c Client, sess Session, u User) error {
	if err := s.requireRecent(sess); err != nil {
		return err
	}
	return s.disable(ctx, c, sess, u, "disabled by the user")
}

// disable turns two-step off for u; sess, the session doing it, stays
// signed in even when a remembered device signed it in.
func (s *Service) disable(ctx context.Context, c Client, sess Session, u User, reason string) error {
	if err := s.revokeDevices(ctx, c, u, sess.ID, "2fa_disabled"); err != nil {
		return err
	}
	// DeleteSecondFactors also removes a device trusted meanwhile.
	if err := s.store.DeleteSecondFactors(ctx, u.ID); err != nil {
		return s.internal(ctx, "delete second factors", err)
	}
	s.record(ctx, c, Event2FADisabled, u.ID, map[string]any{"reason": reason})
	s.RaiseAlert(ctx, u, c, Alert{Type: Event2FADisabled, Subject: "Two-factor sign-in turned off",
		What: "Two-factor sign-in was turned off (" + reason + ")", Detail: map[string]any{"reason": reason}})
	return nil
}

// Reauthenticate renews a session's recent authentication with the password
// and, when the user has one, a second factor; the session gets a new token.
// Codes: invalid_request, invalid_credentials, invalid_code, locked,
// rate_limited, unauthenticated (the session was rotated meanwhile).
func (s *Service) Reauthenticate(ctx context.Context, c Client, sess Session, u User, password, method, code string) (string, error) {
	if password == "" {
		return "", Errorf(CodeInvalidRequest, "password is required")
	}
	if method == MethodSMS {
		// Codes are sent only to pending logins; a code left over from the
		// login that made this session must not count as fresh proof.
		return "", Errorf(CodeInvalidRequest, "re-authentication takes an authenticator app or a backup code, not an SMS code")
	}
	if err := s.limit(s.authLimit, IPRateKey(c.IP)); err != nil {
		return "", err
	}
	if err := s.limit(s.loginLimit, "email:"+u.Email); err != nil {
		return "", err
	}
	ok, _, err := s.hasher.Verify(ctx, password, u.PasswordHash)
	if err != nil {
		return "", s.internal(ctx, "verify password", err)
	}
	if ok {
		s.loginLimit.Refund("email:" + u.Email)
	} else {
		s.record(ctx, c, EventLoginFailed, u.ID, map[string]any{"reason": "wrong_password", "purpose": "reauthenticate"})
		return "", errInvalidCredentials
	}
	methods, err := s.secondFactors(ctx, u.ID)
	if err != nil {
		return "", err
	}
	if len(methods) > 0 {
		if method == "" || code == "" {
			return "", Errorf(CodeInvalidRequest, "this account has two-factor sign-in: method and code are required")
		}
		// As at sign-in: the code is used up in the rotation's write.
		tok, rotation, err := s.rotation(ctx, sess)
		if err != nil {
			return "", err
		}
		rotated, err := s.checkSecondFactor(ctx, c, sess, u, method, code, "reauthenticate", rotation)
		if err != nil {
			return "", err
		}
		if !rotated {
			return "", s.internal(ctx, "reauthenticate", errNotRotated)
		}
		return tok, nil
	}
	return s.rotate(ctx, sess)
}

// rotation is sess made authenticated now under a new token: the token,
// and the rotation that stores it (see RotateSession).
func (s *Service) rotation(ctx context.Context, sess Session) (string, *SessionRotation, error) {
	tok, hash, err := s.newToken()
	if err != nil {
		return "", nil, s.internal(ctx, "new session token", err)
	}
	now := s.now()
	next := sess
	next.TokenHash, next.State, next.AuthAt, next.LastSeenAt = hash, StateAuthenticated, now, now
	return tok, &SessionRotation{OldHash: sess.TokenHash, Next: next}, nil
}

// requireRecent refuses changes from a session whose last password or
// second-factor success is older than RecentAuthWindow, and from a pending
// session (password only, second factor owed) whatever its age: the
// routes never let one through, and this keeps a miswired one from
// turning a password into a change of factors or password.
func (s *Service) requireRecent(sess Session) error {
	if sess.State != StateAuthenticated {
		return errUnauthenticated
	}
	if !s.RecentlyAuthenticated(sess) {
		return errReauth
	}
	return nil
}

// isFirstFactor reports whether the user has no second factor yet.
func (s *Service) isFirstFactor(ctx context.Context, userID string) (bool, error) {
	m, err := s.secondFactors(ctx, userID)
	return len(m) == 0, err
}

// newBackupCodes makes a set of backup codes and their keyed hashes.
func (s *Service) newBackupCodes(ctx context.Context) (codes, hashes []string, err error) {
	key, err := s.backupKey(ctx)
	if err != nil {
		return nil, nil, s.internal(ctx, "backup code key", err)
	}
	codes, err = backupcode.Generate(s.rand, backupcode.Count)
	if err != nil {
		return nil, nil, s.internal(ctx, "generate backup codes", err)
	}
	for _, c := range codes {
		canon, _ := backupcode.Normalize(c)
		hashes = append(hashes, backupcode.Hash(key, canon))
	}
	return codes, hashes, nil
}

// backupKeySetting names the sealed key that backup codes are hashed with.
// It lives in the database, sealed, so that it rotates with the encryption
// key and is shared by every instance, while a stolen database alone cannot
// test guesses against the hashes.
const backupKeySetting = "backup_code_key"

// backupKey returns the backup-code hash key, creating it on first use.
func (s *Service) backupKey(ctx context.Context) ([]byte, error) {
	s.keyMu.Lock()
	defer s.keyMu.Unlock()
	if s.hashKey != nil {
		return s.hashKey, nil
	}
	v, err := s.store.Setting(ctx, backupKeySetting)
	if errors.Is(err, ErrNotFound) {
		if err := s.addBackupKey(ctx); err != nil {
			return nil, err
		}
		v, err = s.store.Setting(ctx, backupKeySetting) // another instance may have won
	}
	if err != nil {
		return nil, err
	}
	k, err := s.keys.open(v, "setting:"+backupKeySetting)
	if err != nil {
		return nil, err
	}
	s.hashKey = k
	return k, nil
}

// addBackupKey stores a new sealed backup-code hash key unless one exists.
func (s *Service) addBackupKey(ctx context.Context) error {
	k := make([]byte, 32)
	if _, err := io.ReadFull(s.rand, k); err != nil {
		return err
	}
	sealed, err := s.keys.seal(k, "setting:"+backupKeySetting)
	if err != nil {
		return err
	}
	return s.store.AddSetting(ctx, backupKeySetting, sealed)
}

// methodName validates a user-given factor name, defaulting to def.
func methodName(name, def string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return def, nil
	}
	if utf8.RuneCountInString(name) > 64 || !utf8.ValidString(name) || strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return "", Errorf(CodeInvalidRequest, "name must be at most 64 characters, without control characters")
	}
	return name, nil
}

// cleanCode drops the spaces and dashes people type inside numeric codes.
func cleanCode(code string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, code)
}

func algorithm(name string) totp.Algorithm {
	switch name {
	case "SHA256":
		return totp.SHA256
	case "SHA512":
		return totp.SHA512
	}
	return totp.SHA1
}
