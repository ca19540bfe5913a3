package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twofold-auth/twofold/internal/auth"
)

var userCases = []testCase{
	{"created user is found by email and by id", func(t *testing.T, s auth.Store) {
		want := addUser(t, s, "u1")
		for _, find := range []struct {
			by string
			fn func() (auth.User, error)
		}{
			{"email", func() (auth.User, error) { return s.UserByEmail(ctx(t), want.Email) }},
			{"id", func() (auth.User, error) { return s.UserByID(ctx(t), want.ID) }},
		} {
			got, err := find.fn()
			must(t, "user by "+find.by, err)
			wantString(t, "id", got.ID, want.ID)
			wantString(t, "email", got.Email, want.Email)
			wantString(t, "password hash", got.PasswordHash, want.PasswordHash)
			wantTime(t, "created at", got.CreatedAt, want.CreatedAt)
			wantInt(t, "failed attempts", got.FailedAttempts, 0)
			if !got.LockedUntil.IsZero() {
				t.Errorf("locked until: got %v, want zero", got.LockedUntil)
			}
		}
	}},
	{"duplicate email is ErrDuplicate", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		u := newUser("u2")
		u.Email = "u1@example.com"
		wantIs(t, "create user with a taken email", s.CreateUser(ctx(t), u), auth.ErrDuplicate)
		if _, err := s.UserByID(ctx(t), "u2"); !isNotFound(err) {
			t.Errorf("user u2 after refused insert: got error %v, want ErrNotFound", err)
		}
	}},
	{"duplicate id is ErrDuplicate", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		u := newUser("u1")
		u.Email = "other@example.com"
		wantIs(t, "create user with a taken id", s.CreateUser(ctx(t), u), auth.ErrDuplicate)
	}},
	{"unknown user is ErrNotFound", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		_, err := s.UserByEmail(ctx(t), "nobody@example.com")
		wantIs(t, "user by unknown email", err, auth.ErrNotFound)
		_, err = s.UserByID(ctx(t), "nobody")
		wantIs(t, "user by unknown id", err, auth.ErrNotFound)
	}},
	{"email lookup is exact", func(t *testing.T, s auth.Store) {
		// The service normalises emails; the store compares them as given.
		addUser(t, s, "u1")
		_, err := s.UserByEmail(ctx(t), "U1@example.com")
		wantIs(t, "user by email in other case", err, auth.ErrNotFound)
	}},
	{"SetPasswordHash replaces the hash", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		addUser(t, s, "u2")
		must(t, "set password hash", s.SetPasswordHash(ctx(t), "u1", "new-hash"))
		got, err := s.UserByID(ctx(t), "u1")
		must(t, "user by id", err)
		wantString(t, "password hash", got.PasswordHash, "new-hash")
		other, err := s.UserByID(ctx(t), "u2")
		must(t, "user by id", err)
		wantString(t, "other user's password hash", other.PasswordHash, newUser("u2").PasswordHash)
		must(t, "set the same hash again", s.SetPasswordHash(ctx(t), "u1", "new-hash"))
	}},
	{"SetPasswordHash of unknown user is ErrNotFound", func(t *testing.T, s auth.Store) {
		wantIs(t, "set password hash", s.SetPasswordHash(ctx(t), "nobody", "h"), auth.ErrNotFound)
	}},
	{"times round-trip at microsecond precision", func(t *testing.T, s auth.Store) {
		u := newUser("u1")
		u.CreatedAt = time.Date(2026, 11, 26, 12, 0, 0, 123456789, time.FixedZone("CET", 3600))
		must(t, "create user", s.CreateUser(ctx(t), u))
		got, err := s.UserByID(ctx(t), "u1")
		must(t, "user by id", err)
		wantTime(t, "created at", got.CreatedAt, u.CreatedAt.Truncate(time.Microsecond))
	}},
}

// wantSession compares a session read back with the one stored.
func wantSession(t *testing.T, got, want auth.Session) {
	t.Helper()
	wantString(t, "id", got.ID, want.ID)
	wantString(t, "token hash", got.TokenHash, want.TokenHash)
	wantString(t, "user id", got.UserID, want.UserID)
	wantString(t, "state", string(got.State), string(want.State))
	wantTime(t, "created at", got.CreatedAt, want.CreatedAt)
	wantTime(t, "last seen at", got.LastSeenAt, want.LastSeenAt)
	wantTime(t, "auth at", got.AuthAt, want.AuthAt)
	wantString(t, "ip", got.IP, want.IP)
	wantString(t, "user agent", got.UserAgent, want.UserAgent)
}

var sessionCases = []testCase{
	{"created session is found by token hash", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		want := newSession("s1", "u1", "hash1")
		want.State = auth.StateAuthenticated
		want.LastSeenAt = t0.Add(time.Minute)
		want.AuthAt = t0.Add(time.Second + 7*time.Microsecond)
		addSession(t, s, want)
		got, err := s.SessionByTokenHash(ctx(t), "hash1")
		must(t, "session by token hash", err)
		wantSession(t, got, want)
	}},
	{"SessionAndUser reads a session and its user in one", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		addUser(t, s, "u2")
		lock := t0.Add(time.Hour)
		ok, err := s.ClaimAttempt(ctx(t), "u1", 0, time.Time{}, 3, lock)
		wantBool(t, "claim", ok, err, true)
		want := newSession("s1", "u1", "hash1")
		want.State = auth.StateAuthenticated
		want.LastSeenAt = t0.Add(time.Minute)
		want.AuthAt = t0.Add(time.Second + 7*time.Microsecond)
		addSession(t, s, want)
		addSession(t, s, newSession("s2", "u2", "hash2"))
		got, u, auths, err := s.SessionAndUser(ctx(t), "hash1")
		must(t, "session and user", err)
		if auths != nil {
			t.Errorf("authenticators of an authenticated session: got %v, want nil (not read)", auths)
		}
		wantSession(t, got, want)
		wantU, err := s.UserByID(ctx(t), "u1")
		must(t, "user by id", err)
		if u != wantU {
			t.Errorf("user: got %+v, want %+v (UserByID)", u, wantU)
		}
		wantInt(t, "user's failed attempts", u.FailedAttempts, 3)
		wantTime(t, "user's lockout", u.LockedUntil, lock)
		_, _, _, err = s.SessionAndUser(ctx(t), "nope")
		wantIs(t, "unknown token hash", err, auth.ErrNotFound)
	}},
	{"SessionAndUser of a pending session lists the user's authenticator apps", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		addUser(t, s, "u2")
		addSession(t, s, newSession("s1", "u1", "hash1")) // pending
		addSession(t, s, newSession("s2", "u2", "hash2"))
		_, _, auths, err := s.SessionAndUser(ctx(t), "hash1")
		must(t, "session and user without authenticators", err)
		if auths == nil || len(auths) != 0 {
			t.Errorf("authenticators of a pending session without any: got %#v, want an empty, non-nil list", auths)
		}
		for _, id := range []string{"t2", "t1"} {
			addAuthenticator(t, s, newAuthenticator(id, "u1"), nil)
		}
		addAuthenticator(t, s, newAuthenticator("t3", "u2"), nil)
		_, err = s.UseTOTPStep(ctx(t), "t2", 150, t0.Add(time.Minute), nil)
		must(t, "use a step", err)
		sess, u, auths, err := s.SessionAndUser(ctx(t), "hash1")
		must(t, "session and user", err)
		wantString(t, "session id", sess.ID, "s1")
		wantString(t, "user id", u.ID, "u1")
		want, err := s.TOTPAuthenticators(ctx(t), "u1")
		must(t, "list authenticators", err)
		if !reflect.DeepEqual(auths, want) {
			t.Errorf("authenticators: got %+v, want %+v (TOTPAuthenticators)", auths, want)
		}
	}},
	{"zero auth time reads back as zero", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		addSession(t, s, newSession("s1", "u1", "hash1"))
		got, err := s.SessionByTokenHash(ctx(t), "hash1")
		must(t, "session by token hash", err)
		if !got.AuthAt.IsZero() {
			t.Errorf("auth at: got %v, want zero", got.AuthAt)
		}
	}},
	{"unknown token hash is ErrNotFound", func(t *testing.T, s auth.Store) {
		_, err := s.SessionByTokenHash(ctx(t), "nope")
		wantIs(t, "session by unknown token hash", err, auth.ErrNotFound)
	}},
	{"duplicate token hash is ErrDuplicate", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		addSession(t, s, newSession("s1", "u1", "hash1"))
		wantIs(t, "create session with a taken token hash", s.CreateSession(ctx(t), newSession("s2", "u1", "hash1")), auth.ErrDuplicate)
	}},
	{"RotateSession succeeds once with the current hash", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		old := newSession("s1", "u1", "old")
		addSession(t, s, old)
		next := old
		next.TokenHash, next.State = "new", auth.StateAuthenticated
		next.AuthAt, next.LastSeenAt = t0.Add(time.Minute), t0.Add(time.Minute)
		next.IP, next.UserAgent, next.CreatedAt = "ignored", "ignored", t0.Add(time.Hour)
		must(t, "rotate", s.RotateSession(ctx(t), "old", next))

		got, err := s.SessionByTokenHash(ctx(t), "new")
		must(t, "session by new hash", err)
		wantString(t, "id", got.ID, "s1")
		wantString(t, "state", string(got.State), string(auth.StateAuthenticated))
		wantTime(t, "auth at", got.AuthAt, next.AuthAt)
		wantTime(t, "last seen at", got.LastSeenAt, next.LastSeenAt)
		wantTime(t, "created at (kept)", got.CreatedAt, old.CreatedAt)
		wantString(t, "ip (kept)", got.IP, old.IP)
		wantString(t, "user agent (kept)", got.UserAgent, old.UserAgent)
		_, err = s.SessionByTokenHash(ctx(t), "old")
		wantIs(t, "session by old hash", err, auth.ErrNotFound)

		again := next
		again.TokenHash = "newer"
		wantIs(t, "second rotate with the old hash", s.RotateSession(ctx(t), "old", again), auth.ErrNotFound)
		if _, err := s.SessionByTokenHash(ctx(t), "new"); err != nil {
			t.Errorf("session by first new hash after refused rotation: %v", err)
		}
	}},
	{"RotateSession of another session id is ErrNotFound", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		addSession(t, s, newSession("s1", "u1", "h1"))
		addSession(t, s, newSession("s2", "u1", "h2"))
		next := newSession("s2", "u1", "h3")
		wantIs(t, "rotate s2 with s1's hash", s.RotateSession(ctx(t), "h1", next), auth.ErrNotFound)
		if _, err := s.SessionByTokenHash(ctx(t), "h1"); err != nil {
			t.Errorf("session s1 after refused rotation: %v", err)
		}
	}},
	{"TouchSession only moves last-seen forward", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		addSession(t, s, newSession("s1", "u1", "h1"))
		lastSeen := func() time.Time {
			got, err := s.SessionByTokenHash(ctx(t), "h1")
			must(t, "session by token hash", err)
			return got.LastSeenAt
		}
		must(t, "touch later", s.TouchSession(ctx(t), "s1", t0.Add(time.Minute)))
		wantTime(t, "last seen after touching later", lastSeen(), t0.Add(time.Minute))
		must(t, "touch earlier", s.TouchSession(ctx(t), "s1", t0.Add(time.Second)))
		wantTime(t, "last seen after touching earlier", lastSeen(), t0.Add(time.Minute))
		must(t, "touch unknown session", s.TouchSession(ctx(t), "nope", t0))
	}},
	{"DeleteSession removes one session", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		addSession(t, s, newSession("s1", "u1", "h1"))
		addSession(t, s, newSession("s2", "u1", "h2"))
		must(t, "delete session", s.DeleteSession(ctx(t), "s1"))
		_, err := s.SessionByTokenHash(ctx(t), "h1")
		wantIs(t, "deleted session", err, auth.ErrNotFound)
		if _, err := s.SessionByTokenHash(ctx(t), "h2"); err != nil {
			t.Errorf("other session: %v", err)
		}
		must(t, "delete a session that is gone", s.DeleteSession(ctx(t), "s1"))
	}},
	{"DeleteUserSessions keeps the excepted session and other users'", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		addUser(t, s, "u2")
		addSession(t, s, newSession("s1", "u1", "h1"))
		addSession(t, s, newSession("s2", "u1", "h2"))
		addSession(t, s, newSession("s3", "u1", "h3"))
		addSession(t, s, newSession("s4", "u2", "h4"))
		must(t, "delete user sessions", s.DeleteUserSessions(ctx(t), "u1", "s2"))
		for hash, want := range map[string]bool{"h1": false, "h2": true, "h3": false, "h4": true} {
			_, err := s.SessionByTokenHash(ctx(t), hash)
			if got := err == nil; got != want {
				t.Errorf("session %s exists: got %v (err %v), want %v", hash, got, err, want)
			}
		}
		must(t, "delete all of a user's sessions", s.DeleteUserSessions(ctx(t), "u1", ""))
		_, err := s.SessionByTokenHash(ctx(t), "h2")
		wantIs(t, "session after deleting all", err, auth.ErrNotFound)
		must(t, "delete sessions of a user with none", s.DeleteUserSessions(ctx(t), "u1", ""))
	}},
	{"DeleteExpiredSessions removes idle and old sessions", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		fresh := newSession("fresh", "u1", "h1")
		idle := newSession("idle", "u1", "h2")
		idle.LastSeenAt = t0.Add(-2 * time.Hour)
		old := newSession("old", "u1", "h3")
		old.CreatedAt = t0.Add(-40 * 24 * time.Hour)
		edge := newSession("edge", "u1", "h4") // exactly at both limits: kept
		edge.LastSeenAt, edge.CreatedAt = t0.Add(-time.Hour), t0.Add(-30*24*time.Hour)
		for _, sess := range []auth.Session{fresh, idle, old, edge} {
			addSession(t, s, sess)
		}
		n, err := s.DeleteExpiredSessions(ctx(t), t0.Add(-time.Hour), t0.Add(-30*24*time.Hour))
		must(t, "delete expired sessions", err)
		if n != 2 {
			t.Errorf("removed: got %d, want 2", n)
		}
		for hash, want := range map[string]bool{"h1": true, "h2": false, "h3": false, "h4": true} {
			_, err := s.SessionByTokenHash(ctx(t), hash)
			if got := err == nil; got != want {
				t.Errorf("session %s exists: got %v (err %v), want %v", hash, got, err, want)
			}
		}
		n, err = s.DeleteExpiredSessions(ctx(t), t0.Add(-time.Hour), t0.Add(-30*24*time.Hour))
		must(t, "delete expired sessions again", err)
		if n != 0 {
			t.Errorf("removed the second time: got %d, want 0", n)
		}
	}},
	{"client strings the service does not clean are stored", func(t *testing.T, s auth.Store) {
		// The User-Agent reaches the store as the client sent it (only
		// truncated when long), so it may be invalid UTF-8. The write must
		// not fail; a backend may store it as given or with U+FFFD.
		addUser(t, s, "u1")
		sess := newSession("s1", "u1", "h1")
		sess.UserAgent = "agent\xff\xfe/1"
		must(t, "create session with an invalid UTF-8 user agent", s.CreateSession(ctx(t), sess))
		got, err := s.SessionByTokenHash(ctx(t), "h1")
		must(t, "session by token hash", err)
		if got.UserAgent != sess.UserAgent && got.UserAgent != strings.ToValidUTF8(sess.UserAgent, "\uFFFD") {
			t.Errorf("user agent: got %q, want %q as given or with U+FFFD", got.UserAgent, sess.UserAgent)
		}
	}},
}

func isNotFound(err error) bool { return err != nil && errors.Is(err, auth.ErrNotFound) }

func newEvent(id, typ, userID string, detail map[string]any) auth.Event {
	return auth.Event{ID: id, Time: t0, Type: typ, UserID: userID, IP: "192.0.2.1", UserAgent: "storetest/1.0", Detail: detail}
}

func eventIDs(evs []auth.Event) []string {
	ids := []string{}
	for _, e := range evs {
		ids = append(ids, e.ID)
	}
	return ids
}

func listEvents(t *testing.T, s auth.Store, f auth.EventFilter) []auth.Event {
	t.Helper()
	evs, err := s.Events(ctx(t), f)
	must(t, fmt.Sprintf("events %+v", f), err)
	return evs
}

func wantIDs(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s: got %q, want %q", what, got, want)
	}
}

var eventCases = []testCase{
	{"events are listed newest first by id", func(t *testing.T, s auth.Store) {
		// Ids sort by creation; the list follows ids, not insertion order.
		for _, id := range []string{"0002", "0003", "0001", "000a"} {
			must(t, "add event", s.AddEvent(ctx(t), newEvent(id, auth.EventLoginSucceeded, "u1", nil)))
		}
		wantIDs(t, "events", eventIDs(listEvents(t, s, auth.EventFilter{Limit: 10})), []string{"000a", "0003", "0002", "0001"})
	}},
	{"events are filtered by user and type", func(t *testing.T, s auth.Store) {
		for _, e := range []auth.Event{
			newEvent("01", auth.EventLoginSucceeded, "u1", nil),
			newEvent("02", auth.EventLoginFailed, "u1", nil),
			newEvent("03", auth.EventLoginSucceeded, "u2", nil),
			newEvent("04", auth.EventLoginFailed, "", nil),
			newEvent("05", auth.EventLoginSucceeded, "u1", nil),
		} {
			must(t, "add event", s.AddEvent(ctx(t), e))
		}
		wantIDs(t, "user u1", eventIDs(listEvents(t, s, auth.EventFilter{UserID: "u1", Limit: 10})), []string{"05", "02", "01"})
		wantIDs(t, "type login.failed", eventIDs(listEvents(t, s, auth.EventFilter{Type: auth.EventLoginFailed, Limit: 10})), []string{"04", "02"})
		wantIDs(t, "user u1 and type login.succeeded",
			eventIDs(listEvents(t, s, auth.EventFilter{UserID: "u1", Type: auth.EventLoginSucceeded, Limit: 10})), []string{"05", "01"})
		wantIDs(t, "user without events", eventIDs(listEvents(t, s, auth.EventFilter{UserID: "u9", Limit: 10})), []string{})
	}},
	{"events are limited", func(t *testing.T, s auth.Store) {
		for i := range 5 {
			must(t, "add event", s.AddEvent(ctx(t), newEvent(fmt.Sprintf("%02d", i), auth.EventLoginSucceeded, "u1", nil)))
		}
		wantIDs(t, "limit 2", eventIDs(listEvents(t, s, auth.EventFilter{Limit: 2})), []string{"04", "03"})
		wantIDs(t, "limit 2 for user", eventIDs(listEvents(t, s, auth.EventFilter{UserID: "u1", Limit: 2})), []string{"04", "03"})
	}},
	{"no events is an empty list", func(t *testing.T, s auth.Store) {
		evs := listEvents(t, s, auth.EventFilter{Limit: 10})
		if evs == nil || len(evs) != 0 {
			t.Errorf("events: got %#v, want an empty, non-nil list", evs)
		}
	}},
	{"event fields and detail round-trip", func(t *testing.T, s auth.Store) {
		want := newEvent("01", auth.Event2FAFailed, "u1", map[string]any{
			"method": "totp", "consecutive_failures": 3, "ok": false, "nested": map[string]any{"list": []any{1.5, "x"}},
		})
		want.Time = t0.Add(987654 * time.Microsecond)
		must(t, "add event", s.AddEvent(ctx(t), want))
		evs := listEvents(t, s, auth.EventFilter{Limit: 10})
		if len(evs) != 1 {
			t.Fatalf("events: got %d, want 1", len(evs))
		}
		got := evs[0]
		wantString(t, "id", got.ID, want.ID)
		wantTime(t, "time", got.Time, want.Time)
		wantString(t, "type", got.Type, want.Type)
		wantString(t, "user id", got.UserID, want.UserID)
		wantString(t, "ip", got.IP, want.IP)
		wantString(t, "user agent", got.UserAgent, want.UserAgent)
		gotJSON, _ := json.Marshal(got.Detail)
		wantJSON, _ := json.Marshal(want.Detail)
		wantString(t, "detail as JSON", string(gotJSON), string(wantJSON))
	}},
	{"nil detail reads back as an empty map", func(t *testing.T, s auth.Store) {
		must(t, "add event", s.AddEvent(ctx(t), newEvent("01", auth.EventLoginFailed, "", nil)))
		evs := listEvents(t, s, auth.EventFilter{Limit: 10})
		if len(evs) != 1 || evs[0].Detail == nil || len(evs[0].Detail) != 0 {
			t.Errorf("events: got %#v, want one with an empty, non-nil detail", evs)
		}
	}},
	{"empty user id is stored as NULL and read back empty", func(t *testing.T, s auth.Store) {
		must(t, "add event without user", s.AddEvent(ctx(t), newEvent("01", auth.EventLoginFailed, "", nil)))
		must(t, "add event with user", s.AddEvent(ctx(t), newEvent("02", auth.EventLoginFailed, "u1", nil)))
		evs := listEvents(t, s, auth.EventFilter{Limit: 10})
		wantIDs(t, "events", eventIDs(evs), []string{"02", "01"})
		if len(evs) == 2 {
			wantString(t, "user id of event without user", evs[1].UserID, "")
		}
		// An empty UserID in the filter means any user.
		wantIDs(t, "filtered by type only", eventIDs(listEvents(t, s, auth.EventFilter{Type: auth.EventLoginFailed, Limit: 10})), []string{"02", "01"})
	}},
	{"duplicate event id is ErrDuplicate", func(t *testing.T, s auth.Store) {
		must(t, "add event", s.AddEvent(ctx(t), newEvent("01", auth.EventLoginFailed, "", nil)))
		wantIs(t, "add event with a taken id", s.AddEvent(ctx(t), newEvent("01", auth.EventLoginFailed, "", nil)), auth.ErrDuplicate)
	}},
	{"event with an invalid UTF-8 user agent is not lost", func(t *testing.T, s auth.Store) {
		// Losing it would let a client hide its failed logins from the
		// audit trail by sending such a header.
		e := newEvent("01", auth.EventLoginFailed, "", nil)
		e.UserAgent, e.IP = "agent\xff/1", "198.51.100.7\x00"
		must(t, "add event", s.AddEvent(ctx(t), e))
		evs := listEvents(t, s, auth.EventFilter{Limit: 10})
		if len(evs) != 1 {
			t.Fatalf("events: got %d, want 1", len(evs))
		}
		clean := func(s string) string {
			return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
		}
		if got := evs[0].UserAgent; got != e.UserAgent && got != clean(e.UserAgent) {
			t.Errorf("user agent: got %q, want %q as given or with U+FFFD", got, e.UserAgent)
		}
		if got := evs[0].IP; got != e.IP && got != clean(e.IP) {
			t.Errorf("ip: got %q, want %q as given or with U+FFFD", got, e.IP)
		}
	}},
}
