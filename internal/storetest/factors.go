package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twofold-auth/twofold/internal/auth"
)

func userState(t *testing.T, s auth.Store, id string) (int, time.Time) {
	t.Helper()
	u, err := s.UserByID(ctx(t), id)
	must(t, "user by id", err)
	return u.FailedAttempts, u.LockedUntil
}

var attemptCases = []testCase{
	{"ClaimAttempt is a compare-and-set", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		var zero time.Time
		ok, err := s.ClaimAttempt(ctx(t), "u1", 0, zero, 1, zero)
		wantBool(t, "claim from 0", ok, err, true)
		n, until := userState(t, s, "u1")
		wantInt(t, "failed attempts", n, 1)
		wantTime(t, "locked until", until, zero)

		ok, err = s.ClaimAttempt(ctx(t), "u1", 0, zero, 1, zero)
		wantBool(t, "claim again from the same prev", ok, err, false)

		lock := t0.Add(15 * time.Minute)
		ok, err = s.ClaimAttempt(ctx(t), "u1", 1, t0, 5, lock)
		wantBool(t, "claim with the right prev but another prevLockedUntil", ok, err, false)
		ok, err = s.ClaimAttempt(ctx(t), "u1", 2, zero, 5, lock)
		wantBool(t, "claim with another prev", ok, err, false)
		n, until = userState(t, s, "u1")
		wantInt(t, "failed attempts after lost claims", n, 1)
		wantTime(t, "locked until after lost claims", until, zero)

		ok, err = s.ClaimAttempt(ctx(t), "u1", 1, zero, 5, lock)
		wantBool(t, "claim a lockout", ok, err, true)
		n, until = userState(t, s, "u1")
		wantInt(t, "failed attempts", n, 5)
		wantTime(t, "locked until", until, lock)

		ok, err = s.ClaimAttempt(ctx(t), "u1", 5, lock.Add(time.Microsecond), 6, lock.Add(time.Hour))
		wantBool(t, "claim with prevLockedUntil off by a microsecond", ok, err, false)
		ok, err = s.ClaimAttempt(ctx(t), "u1", 5, lock, 6, lock.Add(time.Hour))
		wantBool(t, "claim from a lockout", ok, err, true)
		n, until = userState(t, s, "u1")
		wantInt(t, "failed attempts", n, 6)
		wantTime(t, "locked until", until, lock.Add(time.Hour))
	}},
	{"ClaimAttempt stores its events only when it wins", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		var zero time.Time
		failed := newEvent("e1", auth.Event2FAFailed, "u1", map[string]any{"consecutive_failures": 1, "method": "totp"})
		failed.Time = t0.Add(5 * time.Microsecond)
		ok, err := s.ClaimAttempt(ctx(t), "u1", 0, zero, 1, zero, failed)
		wantBool(t, "claim with an event", ok, err, true)
		n, _ := userState(t, s, "u1")
		wantInt(t, "failed attempts", n, 1)
		evs := listEvents(t, s, auth.EventFilter{Limit: 10})
		wantIDs(t, "events after a won claim", eventIDs(evs), []string{"e1"})
		wantTime(t, "event time", evs[0].Time, failed.Time)
		wantString(t, "event type", evs[0].Type, auth.Event2FAFailed)
		wantString(t, "event user", evs[0].UserID, "u1")
		wantString(t, "event ip", evs[0].IP, failed.IP)
		wantString(t, "event user agent", evs[0].UserAgent, failed.UserAgent)
		if got := fmt.Sprint(evs[0].Detail["consecutive_failures"]); got != "1" {
			t.Errorf("event detail consecutive_failures: got %s, want 1", got)
		}

		ok, err = s.ClaimAttempt(ctx(t), "u1", 0, zero, 1, zero, newEvent("e2", auth.Event2FAFailed, "u1", nil))
		wantBool(t, "lost claim with an event", ok, err, false)
		wantIDs(t, "events after a lost claim", eventIDs(listEvents(t, s, auth.EventFilter{Limit: 10})), []string{"e1"})

		lock := t0.Add(time.Hour)
		ok, err = s.ClaimAttempt(ctx(t), "u1", 1, zero, 2, lock,
			newEvent("e3", auth.Event2FAFailed, "u1", nil), newEvent("e4", auth.Event2FALocked, "u1", nil))
		wantBool(t, "claim with two events", ok, err, true)
		wantIDs(t, "events after a claim with two", eventIDs(listEvents(t, s, auth.EventFilter{Limit: 10})), []string{"e4", "e3", "e1"})
		n, until := userState(t, s, "u1")
		wantInt(t, "failed attempts", n, 2)
		wantTime(t, "locked until", until, lock)

		ok, err = s.ClaimAttempt(ctx(t), "nobody", 0, zero, 1, zero, newEvent("e5", auth.Event2FAFailed, "nobody", nil))
		wantBool(t, "claim for an unknown user with an event", ok, err, false)
		wantIDs(t, "events after a claim for nobody", eventIDs(listEvents(t, s, auth.EventFilter{Limit: 10})), []string{"e4", "e3", "e1"})
	}},
	{"ClaimAttempt with an event that cannot be stored changes nothing", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		var zero time.Time
		must(t, "add event", s.AddEvent(ctx(t), newEvent("dup", auth.EventLoginSucceeded, "u1", nil)))
		_, err := s.ClaimAttempt(ctx(t), "u1", 0, zero, 1, zero, newEvent("dup", auth.Event2FAFailed, "u1", nil))
		if err == nil {
			t.Fatal("claim with an event whose id is taken: got no error")
		}
		n, _ := userState(t, s, "u1")
		wantInt(t, "failed attempts after the failed claim", n, 0)
		ok, err := s.ClaimAttempt(ctx(t), "u1", 0, zero, 1, zero)
		wantBool(t, "claim afterwards", ok, err, true)
	}},
	{"ClaimAttempt of unknown user loses", func(t *testing.T, s auth.Store) {
		ok, err := s.ClaimAttempt(ctx(t), "nobody", 0, time.Time{}, 1, time.Time{})
		wantBool(t, "claim", ok, err, false)
	}},
	{"ResetAttempts clears the count and lockout it claimed", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		lock := t0.Add(time.Hour)
		ok, err := s.ClaimAttempt(ctx(t), "u1", 0, time.Time{}, 5, lock)
		wantBool(t, "claim", ok, err, true)
		must(t, "reset", s.ResetAttempts(ctx(t), "u1", 5, lock))
		n, until := userState(t, s, "u1")
		wantInt(t, "failed attempts", n, 0)
		if !until.IsZero() {
			t.Errorf("locked until: got %v, want zero", until)
		}
		must(t, "reset again", s.ResetAttempts(ctx(t), "u1", 5, lock))
		must(t, "reset when already clear", s.ResetAttempts(ctx(t), "u1", 0, time.Time{}))
		n, _ = userState(t, s, "u1")
		wantInt(t, "failed attempts", n, 0)
		must(t, "reset unknown user", s.ResetAttempts(ctx(t), "nobody", 0, time.Time{}))
	}},
	{"ResetAttempts leaves failures claimed since", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		var zero time.Time
		ok, err := s.ClaimAttempt(ctx(t), "u1", 0, zero, 1, zero)
		wantBool(t, "claim 1 (the attempt that will succeed)", ok, err, true)
		ok, err = s.ClaimAttempt(ctx(t), "u1", 1, zero, 2, zero)
		wantBool(t, "claim 2 (a concurrent failure)", ok, err, true)
		must(t, "reset what was claimed", s.ResetAttempts(ctx(t), "u1", 1, zero))
		n, _ := userState(t, s, "u1")
		wantInt(t, "failed attempts after a stale reset", n, 2)

		lock := t0.Add(15 * time.Minute)
		ok, err = s.ClaimAttempt(ctx(t), "u1", 2, zero, 3, lock)
		wantBool(t, "claim a lockout", ok, err, true)
		must(t, "reset with the right count but another lockout end", s.ResetAttempts(ctx(t), "u1", 3, lock.Add(time.Microsecond)))
		n, until := userState(t, s, "u1")
		wantInt(t, "failed attempts after a mismatched reset", n, 3)
		wantTime(t, "locked until after a mismatched reset", until, lock)
		must(t, "reset", s.ResetAttempts(ctx(t), "u1", 3, lock))
		n, until = userState(t, s, "u1")
		wantInt(t, "failed attempts", n, 0)
		if !until.IsZero() {
			t.Errorf("locked until: got %v, want zero", until)
		}
	}},
}

var totpCases = []testCase{
	{"pending setup is stored, replaced and read", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		addUser(t, s, "u2")
		_, err := s.PendingTOTP(ctx(t), "u1")
		wantIs(t, "pending before any", err, auth.ErrNotFound)
		p1 := auth.PendingTOTP{ID: "t1", UserID: "u1", Name: "Phone", Secret: "sealed-1", CreatedAt: t0}
		must(t, "put pending", s.PutPendingTOTP(ctx(t), p1))
		must(t, "put other user's pending", s.PutPendingTOTP(ctx(t), auth.PendingTOTP{ID: "t9", UserID: "u2", Name: "X", Secret: "sealed-9", CreatedAt: t0}))
		got, err := s.PendingTOTP(ctx(t), "u1")
		must(t, "pending", err)
		wantPending(t, got, p1)

		p2 := auth.PendingTOTP{ID: "t2", UserID: "u1", Name: "Tablet", Secret: "sealed-2", CreatedAt: t0.Add(time.Minute)}
		must(t, "replace pending", s.PutPendingTOTP(ctx(t), p2))
		got, err = s.PendingTOTP(ctx(t), "u1")
		must(t, "pending after replace", err)
		wantPending(t, got, p2)
		other, err := s.PendingTOTP(ctx(t), "u2")
		must(t, "other user's pending", err)
		wantString(t, "other user's pending id", other.ID, "t9")
	}},
	{"ConfirmTOTP moves the pending setup to an authenticator and replaces backup codes", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		must(t, "replace backup codes", s.ReplaceBackupCodes(ctx(t), "u1", []string{"old1", "old2"}, t0))
		a := newAuthenticator("t1", "u1")
		a.LastUsedAt = t0.Add(time.Second)
		addAuthenticator(t, s, a, []string{"h1", "h2", "h3"})

		_, err := s.PendingTOTP(ctx(t), "u1")
		wantIs(t, "pending after confirm", err, auth.ErrNotFound)
		as, err := s.TOTPAuthenticators(ctx(t), "u1")
		must(t, "list authenticators", err)
		if len(as) != 1 {
			t.Fatalf("authenticators: got %d, want 1", len(as))
		}
		wantAuthenticator(t, as[0], a)
		wantInt(t, "backup codes remaining", remaining(t, s, "u1"), 3)
		ok, err := s.UseBackupCode(ctx(t), "u1", "old1", t0, nil)
		wantBool(t, "use a replaced code", ok, err, false)
		ok, err = s.UseBackupCode(ctx(t), "u1", "h2", t0, nil)
		wantBool(t, "use a new code", ok, err, true)
	}},
	{"ConfirmTOTP with nil backup hashes leaves backup codes", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		must(t, "replace backup codes", s.ReplaceBackupCodes(ctx(t), "u1", []string{"old1", "old2"}, t0))
		addAuthenticator(t, s, newAuthenticator("t1", "u1"), nil)
		wantInt(t, "backup codes remaining", remaining(t, s, "u1"), 2)
	}},
	{"ConfirmTOTP with empty backup hashes removes backup codes", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		must(t, "replace backup codes", s.ReplaceBackupCodes(ctx(t), "u1", []string{"old1", "old2"}, t0))
		addAuthenticator(t, s, newAuthenticator("t1", "u1"), []string{})
		wantInt(t, "backup codes remaining", remaining(t, s, "u1"), 0)
	}},
	{"ConfirmTOTP is ErrNotFound when the pending setup differs or is gone", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		addUser(t, s, "u2")
		must(t, "replace backup codes", s.ReplaceBackupCodes(ctx(t), "u1", []string{"old1"}, t0))
		must(t, "put pending", s.PutPendingTOTP(ctx(t), auth.PendingTOTP{ID: "t1", UserID: "u1", Name: "Phone", Secret: "s", CreatedAt: t0}))

		wantIs(t, "confirm another id", s.ConfirmTOTP(ctx(t), newAuthenticator("t2", "u1"), []string{"h1"}, t0), auth.ErrNotFound)
		wantIs(t, "confirm the id for another user", s.ConfirmTOTP(ctx(t), newAuthenticator("t1", "u2"), []string{"h1"}, t0), auth.ErrNotFound)
		wantIDs(t, "authenticators after refused confirms", authenticatorIDs(t, s, "u1"), []string{})
		wantInt(t, "backup codes after refused confirms", remaining(t, s, "u1"), 1)
		if _, err := s.PendingTOTP(ctx(t), "u1"); err != nil {
			t.Errorf("pending after refused confirms: %v", err)
		}

		must(t, "confirm", s.ConfirmTOTP(ctx(t), newAuthenticator("t1", "u1"), nil, t0))
		wantIs(t, "confirm again", s.ConfirmTOTP(ctx(t), newAuthenticator("t1", "u1"), []string{"h1"}, t0), auth.ErrNotFound)
		wantIDs(t, "authenticators", authenticatorIDs(t, s, "u1"), []string{"t1"})
		wantInt(t, "backup codes after refused confirm", remaining(t, s, "u1"), 1)

		must(t, "put pending", s.PutPendingTOTP(ctx(t), auth.PendingTOTP{ID: "t3", UserID: "u1", Name: "Phone", Secret: "s", CreatedAt: t0}))
		must(t, "replace pending", s.PutPendingTOTP(ctx(t), auth.PendingTOTP{ID: "t4", UserID: "u1", Name: "Phone", Secret: "s", CreatedAt: t0}))
		wantIs(t, "confirm a replaced setup", s.ConfirmTOTP(ctx(t), newAuthenticator("t3", "u1"), nil, t0), auth.ErrNotFound)
	}},
	{"failed ConfirmTOTP changes nothing", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		addUser(t, s, "u2")
		addAuthenticator(t, s, newAuthenticator("taken", "u2"), nil)
		must(t, "replace backup codes", s.ReplaceBackupCodes(ctx(t), "u1", []string{"old1"}, t0))
		must(t, "put pending", s.PutPendingTOTP(ctx(t), auth.PendingTOTP{ID: "taken", UserID: "u1", Name: "Phone", Secret: "s", CreatedAt: t0}))
		err := s.ConfirmTOTP(ctx(t), newAuthenticator("taken", "u1"), []string{"h1", "h2"}, t0)
		wantIs(t, "confirm with an authenticator id in use", err, auth.ErrDuplicate)
		if _, err := s.PendingTOTP(ctx(t), "u1"); err != nil {
			t.Errorf("pending after failed confirm: %v", err)
		}
		wantIDs(t, "authenticators after failed confirm", authenticatorIDs(t, s, "u1"), []string{})
		wantInt(t, "backup codes after failed confirm", remaining(t, s, "u1"), 1)
	}},
	{"TOTPAuthenticators lists a user's authenticators oldest first", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		addUser(t, s, "u2")
		wantIDs(t, "no authenticators", authenticatorIDs(t, s, "u1"), []string{})
		as, err := s.TOTPAuthenticators(ctx(t), "u1")
		must(t, "list authenticators", err)
		if as == nil {
			t.Errorf("authenticators: got nil, want an empty list")
		}
		// Ids sort by creation; confirm them out of order.
		for _, id := range []string{"0002", "0003", "0001", "000b"} {
			addAuthenticator(t, s, newAuthenticator(id, "u1"), nil)
		}
		addAuthenticator(t, s, newAuthenticator("0000", "u2"), nil)
		wantIDs(t, "authenticators", authenticatorIDs(t, s, "u1"), []string{"0001", "0002", "0003", "000b"})
		wantIDs(t, "other user's authenticators", authenticatorIDs(t, s, "u2"), []string{"0000"})
	}},
	{"UseTOTPStep accepts only a strictly later step", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		addAuthenticator(t, s, newAuthenticator("t1", "u1"), nil) // last step 100
		at := t0.Add(time.Minute + 5*time.Microsecond)
		for _, c := range []struct {
			step int64
			want bool
		}{{100, false}, {99, false}, {101, true}, {101, false}, {100, false}, {105, true}} {
			ok, err := s.UseTOTPStep(ctx(t), "t1", c.step, at, nil)
			wantBool(t, fmt.Sprintf("use step %d", c.step), ok, err, c.want)
		}
		as, err := s.TOTPAuthenticators(ctx(t), "u1")
		must(t, "list authenticators", err)
		if len(as) != 1 {
			t.Fatalf("authenticators: got %d, want 1", len(as))
		}
		if as[0].LastStep != 105 {
			t.Errorf("last step: got %d, want 105", as[0].LastStep)
		}
		wantTime(t, "last used at", as[0].LastUsedAt, at)
		ok, err := s.UseTOTPStep(ctx(t), "nope", 1000, at, nil)
		wantBool(t, "use step on unknown authenticator", ok, err, false)
	}},
	{"SucceedTOTP is all or nothing", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		addUser(t, s, "u2")
		addAuthenticator(t, s, newAuthenticator("t1", "u1"), nil) // last step 100
		var zero time.Time
		lock := t0.Add(time.Hour)
		ok, err := s.ClaimAttempt(ctx(t), "u1", 0, zero, 3, lock)
		wantBool(t, "claim", ok, err, true)
		at := t0.Add(time.Minute)
		lastStep := func() int64 {
			as, err := s.TOTPAuthenticators(ctx(t), "u1")
			must(t, "list authenticators", err)
			return as[0].LastStep
		}
		events := func() []string { return eventIDs(listEvents(t, s, auth.EventFilter{Limit: 10})) }

		ok, err = s.SucceedTOTP(ctx(t), "u1", 2, lock, "t1", 101, at, nil, newEvent("e1", auth.Event2FASucceeded, "u1", nil))
		wantBool(t, "succeed with a stale count", ok, err, false)
		if got := lastStep(); got != 100 {
			t.Errorf("last step after a lost success: got %d, want 100 (unchanged)", got)
		}
		ok, err = s.SucceedTOTP(ctx(t), "u1", 3, lock, "t1", 100, at, nil, newEvent("e1", auth.Event2FASucceeded, "u1", nil))
		wantBool(t, "succeed with a used step", ok, err, false)
		ok, err = s.SucceedTOTP(ctx(t), "u2", 0, zero, "t1", 101, at, nil, newEvent("e1", auth.Event2FASucceeded, "u2", nil))
		wantBool(t, "succeed with another user's authenticator", ok, err, false)
		n, until := userState(t, s, "u1")
		wantInt(t, "failed attempts after lost successes", n, 3)
		wantTime(t, "locked until after lost successes", until, lock)
		wantIDs(t, "events after lost successes", events(), []string{})

		addSession(t, s, newSession("s1", "u1", "h1"))
		ok, err = s.SucceedTOTP(ctx(t), "u1", 3, lock, "t1", 101, at, rotation("s1", "u1", "stale", "h2", at),
			newEvent("e1", auth.Event2FASucceeded, "u1", nil))
		wantBool(t, "succeed with a stale session rotation", ok, err, false)
		if got := lastStep(); got != 100 {
			t.Errorf("last step after a lost rotation: got %d, want 100 (unchanged)", got)
		}
		n, _ = userState(t, s, "u1")
		wantInt(t, "failed attempts after a lost rotation", n, 3)
		wantIDs(t, "events after a lost rotation", events(), []string{})

		ok, err = s.SucceedTOTP(ctx(t), "u1", 3, lock, "t1", 101, at, rotation("s1", "u1", "h1", "h2", at),
			newEvent("e1", auth.Event2FASucceeded, "u1", nil))
		wantBool(t, "succeed", ok, err, true)
		rotated, err := s.SessionByTokenHash(ctx(t), "h2")
		must(t, "rotated session", err)
		wantString(t, "rotated session state", string(rotated.State), string(auth.StateAuthenticated))
		wantTime(t, "rotated session auth at", rotated.AuthAt, at)
		_, err = s.SessionByTokenHash(ctx(t), "h1")
		wantIs(t, "old token hash after the rotation", err, auth.ErrNotFound)
		if got := lastStep(); got != 101 {
			t.Errorf("last step: got %d, want 101", got)
		}
		n, until = userState(t, s, "u1")
		wantInt(t, "failed attempts", n, 0)
		if !until.IsZero() {
			t.Errorf("locked until: got %v, want zero", until)
		}
		wantIDs(t, "events", events(), []string{"e1"})
		ok, err = s.SucceedTOTP(ctx(t), "u1", 0, zero, "t1", 101, at, nil, newEvent("e2", auth.Event2FASucceeded, "u1", nil))
		wantBool(t, "succeed again with the same step", ok, err, false)
		wantIDs(t, "events after a replay", events(), []string{"e1"})
	}},
	{"UseTOTPStep and UseBackupCode with a session rotation are all or nothing", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		addAuthenticator(t, s, newAuthenticator("t1", "u1"), nil) // last step 100
		must(t, "replace backup codes", s.ReplaceBackupCodes(ctx(t), "u1", []string{"a", "b"}, t0))
		addSession(t, s, newSession("s1", "u1", "h1"))
		at := t0.Add(time.Minute)
		rotate := func(old, hash string) *auth.SessionRotation { return rotation("s1", "u1", old, hash, at) }
		lastStep := func() int64 {
			as, err := s.TOTPAuthenticators(ctx(t), "u1")
			must(t, "list authenticators", err)
			return as[0].LastStep
		}
		remaining := func() int {
			n, err := s.BackupCodesRemaining(ctx(t), "u1")
			must(t, "count backup codes", err)
			return n
		}

		// A session rotated meanwhile: nothing is used up, and the error
		// says the code was right.
		ok, err := s.UseTOTPStep(ctx(t), "t1", 101, at, rotate("stale", "h2"))
		wantIs(t, "use a step with a stale session rotation", err, auth.ErrSessionRotated)
		if ok {
			t.Error("use a step with a stale session rotation: got true")
		}
		wantInt(t, "last step after a lost rotation", int(lastStep()), 100)
		ok, err = s.UseBackupCode(ctx(t), "u1", "a", at, rotate("stale", "h2"))
		wantIs(t, "use a backup code with a stale session rotation", err, auth.ErrSessionRotated)
		if ok {
			t.Error("use a backup code with a stale session rotation: got true")
		}
		wantInt(t, "backup codes left after a lost rotation", remaining(), 2)
		// A wrong code or a used step with a stale rotation is just wrong:
		// ErrSessionRotated (which clears a count) needs a right one.
		ok, err = s.UseBackupCode(ctx(t), "u1", "wrong", at, rotate("stale", "h2"))
		wantBool(t, "use a wrong backup code with a stale session rotation", ok, err, false)
		ok, err = s.UseTOTPStep(ctx(t), "t1", 100, at, rotate("stale", "h2"))
		wantBool(t, "use a used step with a stale session rotation", ok, err, false)
		// A used step or code: the session is not rotated.
		ok, err = s.UseTOTPStep(ctx(t), "t1", 100, at, rotate("h1", "h2"))
		wantBool(t, "use a used step with a rotation", ok, err, false)
		ok, err = s.UseBackupCode(ctx(t), "u1", "wrong", at, rotate("h1", "h2"))
		wantBool(t, "use a wrong backup code with a rotation", ok, err, false)
		_, err = s.SessionByTokenHash(ctx(t), "h1")
		must(t, "session after lost uses", err)

		// Both hold: both happen.
		ok, err = s.UseTOTPStep(ctx(t), "t1", 101, at, rotate("h1", "h2"))
		wantBool(t, "use a step with a rotation", ok, err, true)
		wantInt(t, "last step", int(lastStep()), 101)
		rotated, err := s.SessionByTokenHash(ctx(t), "h2")
		must(t, "rotated session", err)
		wantString(t, "rotated session state", string(rotated.State), string(auth.StateAuthenticated))
		_, err = s.SessionByTokenHash(ctx(t), "h1")
		wantIs(t, "old token hash after the rotation", err, auth.ErrNotFound)
		ok, err = s.UseBackupCode(ctx(t), "u1", "a", at, rotate("h2", "h3"))
		wantBool(t, "use a backup code with a rotation", ok, err, true)
		wantInt(t, "backup codes left", remaining(), 1)
		_, err = s.SessionByTokenHash(ctx(t), "h3")
		must(t, "session rotated by a backup code", err)
	}},
	{"DeleteTOTP removes only the user's own authenticator", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		addUser(t, s, "u2")
		addAuthenticator(t, s, newAuthenticator("t1", "u1"), nil)
		addAuthenticator(t, s, newAuthenticator("t2", "u1"), nil)
		wantIs(t, "delete as another user", s.DeleteTOTP(ctx(t), "u2", "t1"), auth.ErrNotFound)
		wantIDs(t, "authenticators after refused delete", authenticatorIDs(t, s, "u1"), []string{"t1", "t2"})
		must(t, "delete", s.DeleteTOTP(ctx(t), "u1", "t1"))
		wantIDs(t, "authenticators after delete", authenticatorIDs(t, s, "u1"), []string{"t2"})
		wantIs(t, "delete again", s.DeleteTOTP(ctx(t), "u1", "t1"), auth.ErrNotFound)
	}},
	{"DeleteSecondFactors removes authenticators, pending setup and backup codes", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		addUser(t, s, "u2")
		for _, u := range []string{"u1", "u2"} {
			addAuthenticator(t, s, newAuthenticator("a-"+u, u), []string{"h1", "h2"})
			must(t, "put pending", s.PutPendingTOTP(ctx(t), auth.PendingTOTP{ID: "p-" + u, UserID: u, Name: "P", Secret: "s", CreatedAt: t0}))
		}
		must(t, "delete second factors", s.DeleteSecondFactors(ctx(t), "u1"))
		wantIDs(t, "authenticators", authenticatorIDs(t, s, "u1"), []string{})
		_, err := s.PendingTOTP(ctx(t), "u1")
		wantIs(t, "pending", err, auth.ErrNotFound)
		wantInt(t, "backup codes", remaining(t, s, "u1"), 0)

		wantIDs(t, "other user's authenticators", authenticatorIDs(t, s, "u2"), []string{"a-u2"})
		if _, err := s.PendingTOTP(ctx(t), "u2"); err != nil {
			t.Errorf("other user's pending: %v", err)
		}
		wantInt(t, "other user's backup codes", remaining(t, s, "u2"), 2)

		must(t, "delete second factors of a user with none", s.DeleteSecondFactors(ctx(t), "u1"))
		must(t, "delete second factors of an unknown user", s.DeleteSecondFactors(ctx(t), "nobody"))
	}},
}

var backupCases = []testCase{
	{"backup codes are replaced and used once", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		addUser(t, s, "u2")
		wantInt(t, "remaining before any", remaining(t, s, "u1"), 0)
		must(t, "replace", s.ReplaceBackupCodes(ctx(t), "u1", []string{"a", "b", "c"}, t0))
		must(t, "replace other user's", s.ReplaceBackupCodes(ctx(t), "u2", []string{"a", "z"}, t0))
		wantInt(t, "remaining", remaining(t, s, "u1"), 3)

		ok, err := s.UseBackupCode(ctx(t), "u1", "b", t0, nil)
		wantBool(t, "use b", ok, err, true)
		ok, err = s.UseBackupCode(ctx(t), "u1", "b", t0.Add(time.Second), nil)
		wantBool(t, "use b again", ok, err, false)
		ok, err = s.UseBackupCode(ctx(t), "u1", "wrong", t0, nil)
		wantBool(t, "use a wrong code", ok, err, false)
		ok, err = s.UseBackupCode(ctx(t), "u1", "z", t0, nil)
		wantBool(t, "use another user's code", ok, err, false)
		wantInt(t, "remaining after use", remaining(t, s, "u1"), 2)
		wantInt(t, "other user's remaining", remaining(t, s, "u2"), 2)

		must(t, "replace again", s.ReplaceBackupCodes(ctx(t), "u1", []string{"d", "b"}, t0))
		wantInt(t, "remaining after replace", remaining(t, s, "u1"), 2)
		ok, err = s.UseBackupCode(ctx(t), "u1", "a", t0, nil)
		wantBool(t, "use a replaced code", ok, err, false)
		ok, err = s.UseBackupCode(ctx(t), "u1", "b", t0, nil)
		wantBool(t, "use b from the new set", ok, err, true)
		ok, err = s.UseBackupCode(ctx(t), "u2", "a", t0, nil)
		wantBool(t, "other user's a", ok, err, true)
	}},
	{"replacing with no codes removes them", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		must(t, "replace", s.ReplaceBackupCodes(ctx(t), "u1", []string{"a", "b"}, t0))
		must(t, "replace with none", s.ReplaceBackupCodes(ctx(t), "u1", nil, t0))
		wantInt(t, "remaining", remaining(t, s, "u1"), 0)
	}},
	{"a failed replace changes nothing", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		must(t, "replace", s.ReplaceBackupCodes(ctx(t), "u1", []string{"a", "b"}, t0))
		wantIs(t, "replace with a repeated hash", s.ReplaceBackupCodes(ctx(t), "u1", []string{"c", "c"}, t0), auth.ErrDuplicate)
		wantInt(t, "remaining", remaining(t, s, "u1"), 2)
		ok, err := s.UseBackupCode(ctx(t), "u1", "a", t0, nil)
		wantBool(t, "use a code of the kept set", ok, err, true)
	}},
}

var settingCases = []testCase{
	{"unknown setting is ErrNotFound", func(t *testing.T, s auth.Store) {
		_, err := s.Setting(ctx(t), "nope")
		wantIs(t, "setting", err, auth.ErrNotFound)
	}},
	{"AddSetting keeps the first value", func(t *testing.T, s auth.Store) {
		must(t, "add", s.AddSetting(ctx(t), "k", "first"))
		must(t, "add again", s.AddSetting(ctx(t), "k", "second"))
		must(t, "add another", s.AddSetting(ctx(t), "k2", "other"))
		got, err := s.Setting(ctx(t), "k")
		must(t, "setting", err)
		wantString(t, "setting k", got, "first")
		got, err = s.Setting(ctx(t), "k2")
		must(t, "setting", err)
		wantString(t, "setting k2", got, "other")
	}},
}

func sealedSet(vs []auth.Sealed) []string {
	out := []string{}
	for _, v := range vs {
		out = append(out, v.Kind+" "+v.ID+" "+v.Value)
	}
	slices.Sort(out)
	return out
}

var sealedCases = []testCase{
	{"SealedValues lists totp, pending and setting values", func(t *testing.T, s auth.Store) {
		vs, err := s.SealedValues(ctx(t))
		must(t, "sealed values of an empty store", err)
		if vs == nil || len(vs) != 0 {
			t.Errorf("sealed values of an empty store: got %#v, want an empty, non-nil list", vs)
		}
		addUser(t, s, "u1")
		addUser(t, s, "u2")
		addAuthenticator(t, s, newAuthenticator("t1", "u1"), nil)
		addAuthenticator(t, s, newAuthenticator("t2", "u2"), nil)
		must(t, "put pending", s.PutPendingTOTP(ctx(t), auth.PendingTOTP{ID: "t3", UserID: "u1", Name: "P", Secret: "sealed-p", CreatedAt: t0}))
		must(t, "add setting", s.AddSetting(ctx(t), "key", "sealed-k"))
		vs, err = s.SealedValues(ctx(t))
		must(t, "sealed values", err)
		want := []string{"setting key sealed-k", "totp t1 sealed-secret-t1", "totp t2 sealed-secret-t2", "totp_pending t3 sealed-p"}
		if got := sealedSet(vs); !slices.Equal(got, want) {
			t.Errorf("sealed values:\n got %q\nwant %q", got, want)
		}
	}},
	{"ReplaceSealed is a compare-and-set", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		addAuthenticator(t, s, newAuthenticator("t1", "u1"), nil)
		must(t, "put pending", s.PutPendingTOTP(ctx(t), auth.PendingTOTP{ID: "t2", UserID: "u1", Name: "P", Secret: "old-p", CreatedAt: t0}))
		must(t, "add setting", s.AddSetting(ctx(t), "key", "old-k"))

		for _, c := range []struct{ kind, id, old string }{
			{"totp", "t1", "sealed-secret-t1"}, {"totp_pending", "t2", "old-p"}, {"setting", "key", "old-k"},
		} {
			ok, err := s.ReplaceSealed(ctx(t), c.kind, c.id, "stale", "new-"+c.kind)
			wantBool(t, "replace "+c.kind+" with a stale old value", ok, err, false)
			ok, err = s.ReplaceSealed(ctx(t), c.kind, "nope", c.old, "new-"+c.kind)
			wantBool(t, "replace "+c.kind+" of an unknown id", ok, err, false)
			ok, err = s.ReplaceSealed(ctx(t), c.kind, c.id, c.old, "new-"+c.kind)
			wantBool(t, "replace "+c.kind, ok, err, true)
			ok, err = s.ReplaceSealed(ctx(t), c.kind, c.id, c.old, "newer-"+c.kind)
			wantBool(t, "replace "+c.kind+" again with the same old value", ok, err, false)
		}
		as, err := s.TOTPAuthenticators(ctx(t), "u1")
		must(t, "list authenticators", err)
		if len(as) == 1 {
			wantString(t, "authenticator secret", as[0].Secret, "new-totp")
		}
		p, err := s.PendingTOTP(ctx(t), "u1")
		must(t, "pending", err)
		wantString(t, "pending secret", p.Secret, "new-totp_pending")
		v, err := s.Setting(ctx(t), "key")
		must(t, "setting", err)
		wantString(t, "setting", v, "new-setting")

		if _, err := s.ReplaceSealed(ctx(t), "users", "u1", "a", "b"); err == nil || !strings.Contains(err.Error(), "users") {
			t.Errorf("replace of an unknown kind: got error %v, want one naming the kind", err)
		}
	}},
}

func wantPending(t *testing.T, got, want auth.PendingTOTP) {
	t.Helper()
	wantString(t, "pending id", got.ID, want.ID)
	wantString(t, "pending user id", got.UserID, want.UserID)
	wantString(t, "pending name", got.Name, want.Name)
	wantString(t, "pending secret", got.Secret, want.Secret)
	wantTime(t, "pending created at", got.CreatedAt, want.CreatedAt)
}

func wantAuthenticator(t *testing.T, got, want auth.TOTPAuthenticator) {
	t.Helper()
	wantString(t, "id", got.ID, want.ID)
	wantString(t, "user id", got.UserID, want.UserID)
	wantString(t, "name", got.Name, want.Name)
	wantString(t, "secret", got.Secret, want.Secret)
	wantString(t, "algorithm", got.Algorithm, want.Algorithm)
	wantInt(t, "digits", got.Digits, want.Digits)
	wantInt(t, "period", got.Period, want.Period)
	if got.LastStep != want.LastStep {
		t.Errorf("last step: got %d, want %d", got.LastStep, want.LastStep)
	}
	wantTime(t, "created at", got.CreatedAt, want.CreatedAt)
	wantTime(t, "last used at", got.LastUsedAt, want.LastUsedAt)
}
