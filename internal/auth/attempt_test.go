package auth_test

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/twofold-auth/twofold/internal/auth"
	"github.com/twofold-auth/twofold/internal/testdb"
	"github.com/twofold-auth/twofold/internal/totp"
)

// eventsFail is a store whose claims cannot store events with them (as if
// the events table refused every row).
type eventsFail struct{ auth.Store }

func (s eventsFail) ClaimAttempt(ctx context.Context, userID string, prev int, prevLockedUntil time.Time, next int, lockedUntil time.Time, events ...auth.Event) (bool, error) {
	if len(events) > 0 {
		return false, errors.New("events refused")
	}
	return s.Store.ClaimAttempt(ctx, userID, prev, prevLockedUntil, next, lockedUntil)
}

// totpAccount is a user with one authenticator app, signed in up to the
// second factor.
type totpAccount struct {
	svc     *auth.Service
	store   auth.Store
	secret  []byte
	pending auth.Session
	user    auth.User
	backup  []string // the account's backup codes
}

func newTOTPAccount(t *testing.T, wrap func(auth.Store) auth.Store, now func() time.Time) totpAccount {
	t.Helper()
	return newTOTPAccountWith(t, wrap, auth.Options{Now: now})
}

// newTOTPAccountWith is newTOTPAccount with the service's options (o.Now
// is required).
func newTOTPAccountWith(t *testing.T, wrap func(auth.Store) auth.Store, o auth.Options) totpAccount {
	t.Helper()
	now := o.Now
	ctx := t.Context()
	db := testdb.Open(t, testdb.New(t))
	var store auth.Store = db
	if wrap != nil {
		store = wrap(db)
	}
	svc, _ := newServiceOn(t, store, o)
	c := auth.Client{IP: "192.0.2.1"}
	reg, err := svc.Register(ctx, c, "a@example.com", "the right password")
	if err != nil {
		t.Fatal(err)
	}
	sess, u, err := svc.Authenticate(ctx, reg.Token)
	if err != nil {
		t.Fatal(err)
	}
	setup, err := svc.SetupTOTP(ctx, sess, u, "phone")
	if err != nil {
		t.Fatal(err)
	}
	secret, err := totp.DecodeSecret(setup.ManualKey)
	if err != nil {
		t.Fatal(err)
	}
	enabled, err := svc.ConfirmTOTP(ctx, c, sess, u, totp.Code(secret, now(), totp.Default))
	if err != nil {
		t.Fatal(err)
	}
	res, err := svc.Login(ctx, c, "a@example.com", "the right password")
	if err != nil {
		t.Fatal(err)
	}
	pending, pu, err := svc.Authenticate(ctx, res.Token)
	if err != nil {
		t.Fatal(err)
	}
	return totpAccount{svc: svc, store: db, secret: secret, pending: pending, user: pu, backup: enabled.BackupCodes}
}

// verify sends code for the pending session, as read into u.
func (a totpAccount) verify(t *testing.T, u auth.User, code string) error {
	t.Helper()
	_, err := a.svc.VerifySecondFactor(t.Context(), auth.Client{IP: "192.0.2.1"}, a.pending, u, auth.MethodTOTP, code)
	return err
}

// writeCounter counts the attempt writes a store is asked for.
type writeCounter struct {
	auth.Store
	writes *int
}

func (s writeCounter) ClaimAttempt(ctx context.Context, userID string, prev int, prevLockedUntil time.Time, next int, lockedUntil time.Time, events ...auth.Event) (bool, error) {
	*s.writes++
	return s.Store.ClaimAttempt(ctx, userID, prev, prevLockedUntil, next, lockedUntil, events...)
}

func (s writeCounter) SucceedTOTP(ctx context.Context, userID string, prev int, prevLockedUntil time.Time, id string, step int64, at time.Time, rotate *auth.SessionRotation, events ...auth.Event) (bool, error) {
	*s.writes++
	return s.Store.SucceedTOTP(ctx, userID, prev, prevLockedUntil, id, step, at, rotate, events...)
}

func wrongCode(right string) string {
	if right == "000000" {
		return "111111"
	}
	return "000000"
}

func (a totpAccount) failures(t *testing.T) int {
	t.Helper()
	u, err := a.store.UserByID(t.Context(), a.user.ID)
	if err != nil {
		t.Fatal(err)
	}
	return u.FailedAttempts
}

// wantFailures checks the user's failure count and its 2fa.failed events.
func (a totpAccount) wantFailures(t *testing.T, count, failedEvents int) {
	t.Helper()
	if got := a.failures(t); got != count {
		t.Errorf("failed attempts: got %d, want %d", got, count)
	}
	if got := a.events(t, auth.Event2FAFailed); got != failedEvents {
		t.Errorf("2fa.failed events: got %d, want %d", got, failedEvents)
	}
}

func (a totpAccount) events(t *testing.T, typ string) int {
	t.Helper()
	evs, err := a.store.Events(t.Context(), auth.EventFilter{UserID: a.user.ID, Type: typ, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return len(evs)
}

// TestWrongCodeCountsWhenItsEventCannotBeStoredWithIt: a wrong TOTP code is
// counted and recorded in one write; when the events cannot go with the
// claim, the failure still counts (and is answered invalid_code, not an
// internal error).
func TestWrongCodeCountsWhenItsEventCannotBeStoredWithIt(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	for _, tc := range []struct {
		name string
		wrap func(auth.Store) auth.Store
	}{
		{"EventsWithTheClaim", nil},
		{"EventsRefusedWithTheClaim", func(s auth.Store) auth.Store { return eventsFail{s} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newTOTPAccount(t, tc.wrap, clock)
			now = now.Add(30 * time.Second) // past the step that confirmed the app
			right := totp.Code(a.secret, now, totp.Default)
			err := a.verify(t, a.user, wrongCode(right))
			if auth.ErrorCode(err) != auth.CodeInvalidCode {
				t.Fatalf("wrong code: got %v, want invalid_code", err)
			}
			a.wantFailures(t, 1, 1)
		})
	}
}

// TestRightCodeAfterAConcurrentFailureGoesTheLongWay: when the count
// changed after the request read the user (another attempt was claimed),
// the one-write success loses and the attempt is claimed from a fresh read,
// so the other attempt's failure is not wiped and the right code still
// signs in once; used again, the same code is a counted failure.
func TestRightCodeAfterAConcurrentFailureGoesTheLongWay(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	a := newTOTPAccount(t, nil, func() time.Time { return now })
	now = now.Add(30 * time.Second) // past the step that confirmed the app
	ctx := t.Context()
	// Another request's failure lands after this one read the user.
	stale := a.user
	ok, err := a.store.ClaimAttempt(ctx, a.user.ID, 0, time.Time{}, 1, time.Time{})
	if err != nil || !ok {
		t.Fatalf("concurrent claim: %v, %v", ok, err)
	}
	right := totp.Code(a.secret, now, totp.Default)
	if err := a.verify(t, stale, right); err != nil {
		t.Fatalf("right code: %v", err)
	}
	// The long way claimed attempt 2 and reset only what it claimed: the
	// concurrent failure (1) was claimed before it, so the reset from 2
	// clears the count.
	if got := a.failures(t); got != 0 {
		t.Errorf("failed attempts after the success: got %d, want 0", got)
	}
	if got := a.events(t, auth.Event2FASucceeded); got != 1 {
		t.Errorf("2fa.succeeded events: got %d, want 1", got)
	}
	if err := a.verify(t, a.user, right); auth.ErrorCode(err) != auth.CodeInvalidCode {
		t.Fatalf("the same code again: got %v, want invalid_code", err)
	}
	if got := a.failures(t); got != 1 {
		t.Errorf("failed attempts after a replay: got %d, want 1", got)
	}
}

// TestCodesWhileLockedMeanwhileAreLockedAlike: an account locked after the
// request read it refuses the right code as it refuses a wrong one, and
// with as much work (one lost attempt write, then a read), so the answer's
// timing does not tell a right code from a wrong one.
func TestCodesWhileLockedMeanwhileAreLockedAlike(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	var writes int
	a := newTOTPAccount(t, func(s auth.Store) auth.Store { return writeCounter{s, &writes} }, func() time.Time { return now })
	now = now.Add(30 * time.Second) // past the step that confirmed the app
	ctx := t.Context()
	stale := a.user
	ok, err := a.store.ClaimAttempt(ctx, a.user.ID, 0, time.Time{}, 5, now.Add(15*time.Minute))
	if err != nil || !ok {
		t.Fatalf("lockout: %v, %v", ok, err)
	}
	right := totp.Code(a.secret, now, totp.Default)
	for _, code := range []string{right, wrongCode(right)} {
		writes = 0
		if err := a.verify(t, stale, code); auth.ErrorCode(err) != auth.CodeLocked {
			t.Fatalf("code while locked: got %v, want locked", err)
		}
		if writes != 1 {
			t.Errorf("attempt writes for a %s code: got %d, want 1", map[bool]string{true: "right", false: "wrong"}[code == right], writes)
		}
	}
	if got := a.events(t, auth.Event2FASucceeded); got != 0 {
		t.Errorf("2fa.succeeded events: got %d, want 0", got)
	}
	if got := a.failures(t); got != 5 {
		t.Errorf("failed attempts: got %d, want 5 (unchanged)", got)
	}
}

// TestTwoRightCodesForOneSessionSignInOnce: two right codes sent at once
// for one pending session (an app's next code, or a backup code, racing
// the current one). The second request read the session before the first
// rotated it; its code must then not be used up and no second success
// recorded (using the code and rotating the session are one write), and,
// as its code was right, it is not a failure either: it is answered as a
// session that is gone, and counts nothing.
func TestTwoRightCodesForOneSessionSignInOnce(t *testing.T) {
	for _, tc := range []struct {
		name   string
		method string
		code   func(a totpAccount, now time.Time) string
	}{
		{"NextAppCode", auth.MethodTOTP, func(a totpAccount, now time.Time) string {
			return totp.Code(a.secret, now.Add(30*time.Second), totp.Default) // the next step, accepted within the skew
		}},
		{"BackupCode", auth.MethodBackupCode, func(a totpAccount, _ time.Time) string { return a.backup[0] }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
			// One step either side is accepted, so two app codes are right at once.
			a := newTOTPAccountWith(t, nil, auth.Options{Now: func() time.Time { return now }, TOTPSkew: 1})
			now = now.Add(30 * time.Second) // past the step that confirmed the app
			ctx := t.Context()
			c := auth.Client{IP: "192.0.2.1"}
			before, err := a.store.TOTPAuthenticators(ctx, a.user.ID)
			if err != nil {
				t.Fatal(err)
			}
			second := tc.code(a, now)
			// The first request wins and rotates the session.
			if err := a.verify(t, a.user, totp.Code(a.secret, now, totp.Default)); err != nil {
				t.Fatalf("first right code: %v", err)
			}
			after, err := a.store.TOTPAuthenticators(ctx, a.user.ID)
			if err != nil {
				t.Fatal(err)
			}
			left, err := a.store.BackupCodesRemaining(ctx, a.user.ID)
			if err != nil {
				t.Fatal(err)
			}
			// The second request, with the session and user as it read them.
			_, err = a.svc.VerifySecondFactor(ctx, c, a.pending, a.user, tc.method, second)
			if code := auth.ErrorCode(err); err == nil || code != auth.CodeUnauthenticated {
				t.Fatalf("second right code for the same session: got %v, want unauthenticated", err)
			}
			a.wantFailures(t, 0, 0)
			if got := a.events(t, auth.Event2FASucceeded); got != 1 {
				t.Errorf("2fa.succeeded events: got %d, want 1", got)
			}
			if got := a.events(t, auth.EventBackupCodeUsed); got != 0 {
				t.Errorf("backup_code.used events: got %d, want 0", got)
			}
			final, err := a.store.TOTPAuthenticators(ctx, a.user.ID)
			if err != nil {
				t.Fatal(err)
			}
			if final[0].LastStep != after[0].LastStep || after[0].LastStep <= before[0].LastStep {
				t.Errorf("last step: %d before, %d after the first code, %d after the second; the second must not use its step",
					before[0].LastStep, after[0].LastStep, final[0].LastStep)
			}
			if n, err := a.store.BackupCodesRemaining(ctx, a.user.ID); err != nil || n != left {
				t.Errorf("backup codes left: got %d (%v), want %d: the second must not use its code", n, err, left)
			}
		})
	}
}

// TestRightCodeLosingTheRotationDoesNotLockOut: three failures, then two
// right codes race for one pending session, each claimed before it is
// used. The first claims the 4th attempt and signs in; the second, reading
// 3, loses its claim, re-reads and claims the 5th, which starts a lockout;
// its backup code is right but the session is rotated by then. It must
// clear what it claimed, as a right code does, rather than leave a user
// who just signed in locked out (and alerted).
func TestRightCodeLosingTheRotationDoesNotLockOut(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	a := newTOTPAccountWith(t, nil, auth.Options{Now: func() time.Time { return now }, LockoutThreshold: 5})
	now = now.Add(30 * time.Second)
	ctx := t.Context()
	for i := range 3 {
		if err := a.verify(t, a.user, wrongCode(totp.Code(a.secret, now, totp.Default))); auth.ErrorCode(err) != auth.CodeInvalidCode {
			t.Fatalf("wrong code %d: %v", i+1, err)
		}
	}
	stale, err := a.store.UserByID(ctx, a.user.ID) // as both racers read it
	if err != nil {
		t.Fatal(err)
	}
	// The first racer claims the 4th attempt and rotates the session.
	if ok, err := a.store.ClaimAttempt(ctx, a.user.ID, 3, time.Time{}, 4, time.Time{}); err != nil || !ok {
		t.Fatalf("first racer's claim: %v %v", ok, err)
	}
	next := a.pending
	next.TokenHash, next.State, next.AuthAt, next.LastSeenAt = "first racer's token", auth.StateAuthenticated, now, now
	if err := a.store.RotateSession(ctx, a.pending.TokenHash, next); err != nil {
		t.Fatal(err)
	}
	left, err := a.store.BackupCodesRemaining(ctx, a.user.ID)
	if err != nil {
		t.Fatal(err)
	}
	// The second racer, with a right backup code.
	_, err = a.svc.VerifySecondFactor(ctx, auth.Client{IP: "192.0.2.1"}, a.pending, stale, auth.MethodBackupCode, a.backup[0])
	if auth.ErrorCode(err) != auth.CodeUnauthenticated {
		t.Fatalf("second racer's right code: got %v, want unauthenticated", err)
	}
	u, err := a.store.UserByID(ctx, a.user.ID)
	if err != nil {
		t.Fatal(err)
	}
	if u.FailedAttempts != 0 || u.LockedUntil.After(now) {
		t.Errorf("after a right code: %d failed attempts, locked until %v; want 0, unlocked", u.FailedAttempts, u.LockedUntil)
	}
	if got := a.events(t, auth.Event2FALocked); got != 0 {
		t.Errorf("2fa.locked events: got %d, want 0", got)
	}
	if got := a.events(t, auth.Event2FAFailed); got != 3 {
		t.Errorf("2fa.failed events: got %d, want 3 (the wrong codes')", got)
	}
	if n, err := a.store.BackupCodesRemaining(ctx, a.user.ID); err != nil || n != left {
		t.Errorf("backup codes left: got %d (%v), want %d", n, err, left)
	}
}

// lastSMSCode is the 6-digit code in the newest SMS rec holds.
func lastSMSCode(t *testing.T, rec *recorder) string {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for i := len(rec.msgs) - 1; i >= 0; i-- {
		if rec.msgs[i].Channel != "sms" {
			continue
		}
		if code := regexp.MustCompile(`\b\d{6}\b`).FindString(rec.msgs[i].Body); code != "" {
			return code
		}
	}
	t.Fatal("no SMS with a code was sent")
	return ""
}

// TestRightSMSCodeRacingAnAppCodeSignsInOnce: an SMS code too is used up
// in the rotation's write, so when an app code signs the pending session in
// first, the racing right SMS code is neither used up nor recorded as a
// success, and counts nothing.
func TestRightSMSCodeRacingAnAppCodeSignsInOnce(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	rec := &recorder{}
	a := newTOTPAccountWith(t, nil, auth.Options{Now: func() time.Time { return now }, Notifier: rec})
	ctx := t.Context()
	c := auth.Client{IP: "192.0.2.1"}
	// Sign in and add a phone.
	now = now.Add(30 * time.Second)
	tok, err := a.svc.VerifySecondFactor(ctx, c, a.pending, a.user, auth.MethodTOTP, totp.Code(a.secret, now, totp.Default))
	if err != nil {
		t.Fatal(err)
	}
	sess, u, err := a.svc.Authenticate(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.svc.SetupSMS(ctx, c, sess, u, "+14155550123", "phone"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.svc.ConfirmSMS(ctx, c, sess, u, lastSMSCode(t, rec)); err != nil {
		t.Fatal(err)
	}
	// A new sign-in, with an SMS code sent to it.
	now = now.Add(time.Minute)
	res, err := a.svc.Login(ctx, c, "a@example.com", "the right password")
	if err != nil {
		t.Fatal(err)
	}
	pending, pu, err := a.svc.Authenticate(ctx, res.Token)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.svc.SendLoginCode(ctx, c, pending, pu, auth.MethodSMS); err != nil {
		t.Fatal(err)
	}
	smsCode := lastSMSCode(t, rec)
	succeeded := a.events(t, auth.Event2FASucceeded)
	// The app code wins; the SMS code, with the session as it was read, loses.
	if _, err := a.svc.VerifySecondFactor(ctx, c, pending, pu, auth.MethodTOTP, totp.Code(a.secret, now, totp.Default)); err != nil {
		t.Fatalf("app code: %v", err)
	}
	_, err = a.svc.VerifySecondFactor(ctx, c, pending, pu, auth.MethodSMS, smsCode)
	if auth.ErrorCode(err) != auth.CodeUnauthenticated {
		t.Fatalf("racing SMS code: got %v, want unauthenticated", err)
	}
	if got := a.events(t, auth.Event2FASucceeded); got != succeeded+1 {
		t.Errorf("2fa.succeeded events: got %d, want %d (the app code's only)", got, succeeded+1)
	}
	a.wantFailures(t, 0, 0)
}

// TestWrongCodeForARotatedSessionIsAFailure: a wrong code whose session was
// rotated meanwhile is a counted failure like any wrong code; only a right
// one may clear the count (as ErrSessionRotated does).
func TestWrongCodeForARotatedSessionIsAFailure(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	a := newTOTPAccount(t, nil, func() time.Time { return now })
	now = now.Add(30 * time.Second)
	ctx := t.Context()
	next := a.pending
	next.TokenHash, next.State, next.AuthAt, next.LastSeenAt = "another request's token", auth.StateAuthenticated, now, now
	if err := a.store.RotateSession(ctx, a.pending.TokenHash, next); err != nil {
		t.Fatal(err)
	}
	wrong := "00000-00000" // well-formed, so the store is asked; not one of the account's codes
	if slices.Contains(a.backup, wrong) {
		t.Fatal("the account's backup codes include the wrong one")
	}
	_, err := a.svc.VerifySecondFactor(ctx, auth.Client{IP: "192.0.2.1"}, a.pending, a.user, auth.MethodBackupCode, wrong)
	if auth.ErrorCode(err) != auth.CodeInvalidCode {
		t.Fatalf("wrong backup code: got %v, want invalid_code", err)
	}
	if got := a.failures(t); got != 1 {
		t.Errorf("failed attempts: got %d, want 1", got)
	}
}
