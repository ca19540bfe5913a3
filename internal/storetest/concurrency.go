package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twofold-auth/twofold/internal/auth"
)

// concurrently runs fn(0) … fn(n-1) on n goroutines released at once and
// returns their results by index.
func concurrently[T any](n int, fn func(i int) (T, error)) ([]T, []error) {
	out, errs := make([]T, n), make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			out[i], errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return out, errs
}

// wantOneTrue checks that exactly one of the results is true and none failed.
func wantOneTrue(t *testing.T, doing string, oks []bool, errs []error) {
	t.Helper()
	wins := 0
	for i, ok := range oks {
		if errs[i] != nil {
			t.Errorf("%s #%d: %v", doing, i, errs[i])
		}
		if ok {
			wins++
		}
	}
	if wins != 1 {
		t.Errorf("%s: %d of %d won, want exactly 1", doing, wins, len(oks))
	}
}

// wantOneNil checks that exactly one call succeeded and the others failed with loser.
func wantOneNil(t *testing.T, doing string, errs []error, loser error) int {
	t.Helper()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner < 0:
			winner = i
		case err == nil:
			t.Errorf("%s: #%d and #%d both succeeded, want exactly one", doing, winner, i)
		case !errors.Is(err, loser):
			t.Errorf("%s #%d: got error %v, want %v", doing, i, err, loser)
		}
	}
	if winner < 0 {
		t.Errorf("%s: none of %d succeeded, want exactly one", doing, len(errs))
	}
	return winner
}

const racers = 20

var concurrencyCases = []testCase{
	{"UseTOTPStep accepts a step once", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		addAuthenticator(t, s, newAuthenticator("t1", "u1"), nil)
		oks, errs := concurrently(racers, func(int) (bool, error) {
			return s.UseTOTPStep(ctx(t), "t1", 101, t0, nil)
		})
		wantOneTrue(t, "use step 101", oks, errs)
	}},
	{"SucceedTOTP accepts a step once", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		addAuthenticator(t, s, newAuthenticator("t1", "u1"), nil)
		oks, errs := concurrently(racers, func(i int) (bool, error) {
			return s.SucceedTOTP(ctx(t), "u1", 0, time.Time{}, "t1", 101, t0, nil,
				newEvent(fmt.Sprintf("e%02d", i), auth.Event2FASucceeded, "u1", nil))
		})
		wantOneTrue(t, "succeed with step 101", oks, errs)
		if got := len(listEvents(t, s, auth.EventFilter{Limit: 100})); got != 1 {
			t.Errorf("events: got %d, want 1 (the winner's)", got)
		}
	}},
	{"UseBackupCode accepts a code once", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		must(t, "replace backup codes", s.ReplaceBackupCodes(ctx(t), "u1", []string{"a", "b"}, t0))
		oks, errs := concurrently(racers, func(int) (bool, error) {
			return s.UseBackupCode(ctx(t), "u1", "a", t0, nil)
		})
		wantOneTrue(t, "use code a", oks, errs)
		wantInt(t, "remaining", remaining(t, s, "u1"), 1)
	}},
	{"right backup codes racing for one session rotation: one is used, the rest are left", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		var codes []string
		for i := range racers {
			codes = append(codes, fmt.Sprintf("code%02d", i))
		}
		must(t, "replace backup codes", s.ReplaceBackupCodes(ctx(t), "u1", codes, t0))
		addSession(t, s, newSession("s1", "u1", "h1"))
		oks, errs := concurrently(racers, func(i int) (bool, error) {
			return s.UseBackupCode(ctx(t), "u1", codes[i], t0, rotation("s1", "u1", "h1", fmt.Sprintf("new%02d", i), t0))
		})
		wins := 0
		for i, ok := range oks {
			switch {
			case ok && errs[i] == nil:
				wins++
			case !ok && errors.Is(errs[i], auth.ErrSessionRotated):
			default:
				t.Errorf("racer %d: got %v, %v; want true or ErrSessionRotated", i, ok, errs[i])
			}
		}
		wantInt(t, "winners", wins, 1)
		wantInt(t, "remaining", remaining(t, s, "u1"), racers-1)
	}},
	{"an SMS code used with a rotation racing the session's deletion", func(t *testing.T, s auth.Store) {
		// Either order is fine; neither may fail otherwise (on PostgreSQL
		// the two must take their row locks in one order, or deadlock).
		addUser(t, s, "u1")
		addPhone(t, s, "p1", "u1", nil)
		for round := range 500 {
			id, hash := fmt.Sprintf("s%03d", round), fmt.Sprintf("th%03d", round)
			addSession(t, s, newSession(id, "u1", hash))
			must(t, "put code", s.PutSMSCode(ctx(t), smsCode(id, "u1", "login", "p1", "h1")))
			_, errs := concurrently(2, func(i int) (struct{}, error) {
				if i == 0 {
					_, err := s.UseSMSCode(ctx(t), id, "login", "h1", t0, rotation(id, "u1", hash, hash+"-next", t0))
					if errors.Is(err, auth.ErrNotFound) {
						err = nil // the deletion came first and took the code
					}
					return struct{}{}, err
				}
				return struct{}{}, s.DeleteSession(ctx(t), id)
			})
			for i, err := range errs {
				if err != nil {
					t.Fatalf("round %d, racer %d: %v", round, i, err)
				}
			}
		}
	}},
	{"revoking a user's devices for a kept session racing one device's deletion", func(t *testing.T, s auth.Store) {
		// Both delete the device (and, by cascade, its other sessions); on
		// PostgreSQL they must lock devices before sessions, or deadlock.
		addUser(t, s, "u1")
		for round := range 300 {
			dev := fmt.Sprintf("d%03d", round)
			addDevice(t, s, newDevice(dev, "u1", "dh"+dev))
			for _, k := range []string{"keep", "other"} {
				sess := newSession(k+dev, "u1", "th-"+k+dev)
				sess.DeviceID = dev
				addSession(t, s, sess)
			}
			_, errs := concurrently(2, func(i int) (struct{}, error) {
				if i == 0 {
					_, err := s.DeleteTrustedDevices(ctx(t), "u1", "keep"+dev)
					return struct{}{}, err
				}
				err := s.DeleteTrustedDevice(ctx(t), "u1", dev)
				if errors.Is(err, auth.ErrNotFound) {
					err = nil // the other went first
				}
				return struct{}{}, err
			})
			for i, err := range errs {
				if err != nil {
					t.Fatalf("round %d, racer %d: %v", round, i, err)
				}
			}
			if !sessionGone(t, s, "th-other"+dev) {
				t.Fatalf("round %d: the device's other session outlived it", round)
			}
		}
	}},
	{"ClaimAttempt from the same observed state wins once", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		oks, errs := concurrently(racers, func(i int) (bool, error) {
			return s.ClaimAttempt(ctx(t), "u1", 0, time.Time{}, 1, t0.Add(time.Duration(i)*time.Second))
		})
		wantOneTrue(t, "claim from 0", oks, errs)
		n, _ := userState(t, s, "u1")
		wantInt(t, "failed attempts", n, 1)
	}},
	{"concurrent failures each claim their own count", func(t *testing.T, s auth.Store) {
		// What the service does: read the state, claim the next count, and
		// start over when it lost. No failure may be lost.
		addUser(t, s, "u1")
		_, errs := concurrently(racers, func(int) (struct{}, error) {
			for range 10 * racers {
				u, err := s.UserByID(ctx(t), "u1")
				if err != nil {
					return struct{}{}, err
				}
				ok, err := s.ClaimAttempt(ctx(t), "u1", u.FailedAttempts, u.LockedUntil, u.FailedAttempts+1, u.LockedUntil)
				if err != nil || ok {
					return struct{}{}, err
				}
			}
			return struct{}{}, errors.New("never won a claim")
		})
		for i, err := range errs {
			if err != nil {
				t.Errorf("claimer #%d: %v", i, err)
			}
		}
		n, _ := userState(t, s, "u1")
		wantInt(t, "failed attempts", n, racers)
	}},
	{"ResetAttempts racing a new failure loses no failure", func(t *testing.T, s auth.Store) {
		// Either order is fine: the reset first (the failure then loses its
		// claim and retries from 0) or the failure first (the reset then
		// finds another count and leaves it). Never both.
		addUser(t, s, "u1")
		var zero time.Time
		for round := range 20 {
			ok, err := s.ClaimAttempt(ctx(t), "u1", 0, zero, 1, zero)
			wantBool(t, fmt.Sprintf("round %d: claim 1", round), ok, err, true)
			oks, errs := concurrently(2, func(i int) (bool, error) {
				if i == 0 {
					return false, s.ResetAttempts(ctx(t), "u1", 1, zero)
				}
				return s.ClaimAttempt(ctx(t), "u1", 1, zero, 2, zero)
			})
			must(t, "reset", errs[0])
			must(t, "claim 2", errs[1])
			want := 0
			if oks[1] {
				want = 2
			}
			n, _ := userState(t, s, "u1")
			if n != want {
				t.Fatalf("round %d: failed attempts: got %d, want %d (claim of 2 won: %v)", round, n, want, oks[1])
			}
			if n != 0 {
				must(t, "reset", s.ResetAttempts(ctx(t), "u1", n, zero))
			}
		}
	}},
	{"CreateUser with distinct emails all succeed", func(t *testing.T, s auth.Store) {
		const n = 50
		_, errs := concurrently(n, func(i int) (struct{}, error) {
			return struct{}{}, s.CreateUser(ctx(t), newUser(fmt.Sprintf("u%02d", i)))
		})
		for i, err := range errs {
			if err != nil {
				t.Errorf("create user #%d: %v", i, err)
			}
		}
		for i := range n {
			if _, err := s.UserByEmail(ctx(t), fmt.Sprintf("u%02d@example.com", i)); err != nil {
				t.Errorf("user #%d: %v", i, err)
			}
		}
	}},
	{"CreateUser with the same email succeeds once", func(t *testing.T, s auth.Store) {
		_, errs := concurrently(racers, func(i int) (struct{}, error) {
			u := newUser(fmt.Sprintf("u%02d", i))
			u.Email = "same@example.com"
			return struct{}{}, s.CreateUser(ctx(t), u)
		})
		wantOneNil(t, "create user", errs, auth.ErrDuplicate)
	}},
	{"RotateSession with the same old hash succeeds once", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		addSession(t, s, newSession("s1", "u1", "old"))
		_, errs := concurrently(racers, func(i int) (struct{}, error) {
			next := newSession("s1", "u1", fmt.Sprintf("new%02d", i))
			return struct{}{}, s.RotateSession(ctx(t), "old", next)
		})
		if w := wantOneNil(t, "rotate", errs, auth.ErrNotFound); w >= 0 {
			if _, err := s.SessionByTokenHash(ctx(t), fmt.Sprintf("new%02d", w)); err != nil {
				t.Errorf("session by the winner's hash: %v", err)
			}
		}
	}},
	{"ConfirmTOTP of one pending setup succeeds once", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		must(t, "put pending", s.PutPendingTOTP(ctx(t), auth.PendingTOTP{ID: "t1", UserID: "u1", Name: "P", Secret: "s", CreatedAt: t0}))
		_, errs := concurrently(racers/2, func(i int) (struct{}, error) {
			return struct{}{}, s.ConfirmTOTP(ctx(t), newAuthenticator("t1", "u1"), []string{fmt.Sprintf("h%02d", i)}, t0)
		})
		wantOneNil(t, "confirm", errs, auth.ErrNotFound)
		wantIDs(t, "authenticators", authenticatorIDs(t, s, "u1"), []string{"t1"})
		wantInt(t, "backup codes", remaining(t, s, "u1"), 1)
	}},
	{"concurrent ReplaceBackupCodes leave exactly one set", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		const sets, size = 10, 10
		code := func(set, i int) string { return fmt.Sprintf("set%02d-code%02d", set, i) }
		_, errs := concurrently(sets, func(set int) (struct{}, error) {
			var hashes []string
			for i := range size {
				hashes = append(hashes, code(set, i))
			}
			return struct{}{}, s.ReplaceBackupCodes(ctx(t), "u1", hashes, t0)
		})
		for i, err := range errs {
			if err != nil {
				t.Errorf("replace #%d: %v", i, err)
			}
		}
		wantInt(t, "remaining", remaining(t, s, "u1"), size)
		var kept []int
		for set := range sets {
			used := 0
			for i := range size {
				ok, err := s.UseBackupCode(ctx(t), "u1", code(set, i), t0, nil)
				must(t, "use backup code", err)
				if ok {
					used++
				}
			}
			if used == size {
				kept = append(kept, set)
			} else if used != 0 {
				t.Errorf("set %d: %d of its %d codes are left, want all or none", set, used, size)
			}
		}
		if len(kept) != 1 {
			t.Errorf("sets left: got %v, want exactly one", kept)
		}
	}},
	{"ConfirmTOTP racing DeleteSecondFactors never leaves an authenticator", func(t *testing.T, s auth.Store) {
		// In any serial order the delete wins: after it, nothing is left;
		// before it, the confirmation finds no pending setup.
		addUser(t, s, "u1")
		for round := range 20 {
			id := fmt.Sprintf("t%02d", round)
			must(t, "put pending", s.PutPendingTOTP(ctx(t), auth.PendingTOTP{ID: id, UserID: "u1", Name: "P", Secret: "s", CreatedAt: t0}))
			_, errs := concurrently(2, func(i int) (struct{}, error) {
				if i == 0 {
					return struct{}{}, s.ConfirmTOTP(ctx(t), newAuthenticator(id, "u1"), []string{"h-" + id}, t0)
				}
				return struct{}{}, s.DeleteSecondFactors(ctx(t), "u1")
			})
			if errs[0] != nil && !errors.Is(errs[0], auth.ErrNotFound) {
				t.Fatalf("round %d: confirm: %v", round, errs[0])
			}
			must(t, fmt.Sprintf("round %d: delete second factors", round), errs[1])
			if ids := authenticatorIDs(t, s, "u1"); len(ids) != 0 {
				t.Fatalf("round %d: authenticators after delete: got %q, want none", round, ids)
			}
			if n := remaining(t, s, "u1"); n != 0 {
				t.Fatalf("round %d: backup codes after delete: got %d, want 0", round, n)
			}
			if _, err := s.PendingTOTP(ctx(t), "u1"); !errors.Is(err, auth.ErrNotFound) {
				t.Fatalf("round %d: pending after delete: got error %v, want ErrNotFound", round, err)
			}
		}
	}},
	{"AddSetting keeps one first value", func(t *testing.T, s auth.Store) {
		_, errs := concurrently(racers, func(i int) (struct{}, error) {
			return struct{}{}, s.AddSetting(ctx(t), "k", fmt.Sprintf("v%02d", i))
		})
		for i, err := range errs {
			if err != nil {
				t.Errorf("add setting #%d: %v", i, err)
			}
		}
		v, err := s.Setting(ctx(t), "k")
		must(t, "setting", err)
		var values []string
		for i := range racers {
			values = append(values, fmt.Sprintf("v%02d", i))
		}
		if !slices.Contains(values, v) {
			t.Errorf("setting: got %q, want one of the added values", v)
		}
	}},
	{"ReplaceSealed of one value succeeds once", func(t *testing.T, s auth.Store) {
		must(t, "add setting", s.AddSetting(ctx(t), "k", "old"))
		oks, errs := concurrently(racers, func(i int) (bool, error) {
			return s.ReplaceSealed(ctx(t), "setting", "k", "old", fmt.Sprintf("new%02d", i))
		})
		wantOneTrue(t, "replace sealed", oks, errs)
	}},
}
