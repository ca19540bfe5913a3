package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/twofold-auth/twofold/internal/auth"
)

// addPhone stores a pending phone and confirms it.
func addPhone(t *testing.T, s auth.Store, id, userID string, backupHashes []string) auth.SMSPhone {
	t.Helper()
	must(t, "put pending phone "+id, s.PutPendingSMS(ctx(t), auth.PendingSMS{ID: id, UserID: userID, Name: "Phone " + id, Phone: "sealed-phone-" + id, CreatedAt: t0}))
	p := auth.SMSPhone{ID: id, UserID: userID, Name: "Phone " + id, Phone: "sealed-phone-" + id, CreatedAt: t0}
	must(t, "confirm phone "+id, s.ConfirmSMS(ctx(t), p, backupHashes, t0))
	return p
}

func phoneIDs(t *testing.T, s auth.Store, userID string) []string {
	t.Helper()
	ps, err := s.SMSPhones(ctx(t), userID)
	must(t, "list phones", err)
	ids := []string{}
	for _, p := range ps {
		ids = append(ids, p.ID)
	}
	return ids
}

func smsCode(sessionID, userID, purpose, phoneID, hash string) auth.SMSCode {
	return auth.SMSCode{SessionID: sessionID, UserID: userID, Purpose: purpose, PhoneID: phoneID, Hash: hash, CreatedAt: t0, ExpiresAt: t0.Add(5 * time.Minute)}
}

var smsCases = []testCase{
	{"A pending phone is replaced by a new setup and confirmed once", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		_, err := s.PendingSMS(ctx(t), "u1")
		wantIs(t, "pending phone of a user without one", err, auth.ErrNotFound)
		must(t, "put pending p1", s.PutPendingSMS(ctx(t), auth.PendingSMS{ID: "p1", UserID: "u1", Name: "A", Phone: "s1", CreatedAt: t0}))
		must(t, "put pending p2", s.PutPendingSMS(ctx(t), auth.PendingSMS{ID: "p2", UserID: "u1", Name: "B", Phone: "s2", CreatedAt: t0}))
		p, err := s.PendingSMS(ctx(t), "u1")
		must(t, "pending phone", err)
		wantString(t, "pending id", p.ID, "p2")
		wantString(t, "pending phone", p.Phone, "s2")
		err = s.ConfirmSMS(ctx(t), auth.SMSPhone{ID: "p1", UserID: "u1", Name: "A", Phone: "s1", CreatedAt: t0}, nil, t0)
		wantIs(t, "confirm the replaced setup", err, auth.ErrNotFound)
		must(t, "confirm p2", s.ConfirmSMS(ctx(t), auth.SMSPhone{ID: "p2", UserID: "u1", Name: "B", Phone: "s2", CreatedAt: t0}, []string{"h1", "h2"}, t0))
		err = s.ConfirmSMS(ctx(t), auth.SMSPhone{ID: "p2", UserID: "u1", Name: "B", Phone: "s2", CreatedAt: t0}, nil, t0)
		wantIs(t, "confirm p2 again", err, auth.ErrNotFound)
		if got := phoneIDs(t, s, "u1"); !slices.Equal(got, []string{"p2"}) {
			t.Errorf("phones: got %v, want [p2]", got)
		}
		wantInt(t, "backup codes stored with the first phone", remaining(t, s, "u1"), 2)
	}},
	{"A new phone replaces the old one and voids its login codes", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		addSession(t, s, newSession("s1", "u1", "th1"))
		addPhone(t, s, "p1", "u1", nil)
		must(t, "put code", s.PutSMSCode(ctx(t), smsCode("s1", "u1", "login", "p1", "h")))
		addPhone(t, s, "p2", "u1", nil)
		if got := phoneIDs(t, s, "u1"); !slices.Equal(got, []string{"p2"}) {
			t.Errorf("phones: got %v, want [p2]", got)
		}
		_, err := s.UseSMSCode(ctx(t), "s1", "login", "h", t0, nil)
		wantIs(t, "use a code sent to the replaced phone", err, auth.ErrNotFound)
	}},
	{"A code is used once, before it expires, for its session and purpose only", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		addSession(t, s, newSession("s1", "u1", "th1"))
		addSession(t, s, newSession("s2", "u1", "th2"))
		addPhone(t, s, "p1", "u1", nil)
		must(t, "put code", s.PutSMSCode(ctx(t), smsCode("s1", "u1", "login", "p1", "h1")))
		_, err := s.UseSMSCode(ctx(t), "s2", "login", "h1", t0, nil)
		wantIs(t, "use from another session", err, auth.ErrNotFound)
		_, err = s.UseSMSCode(ctx(t), "s1", "setup", "h1", t0, nil)
		wantIs(t, "use for another purpose", err, auth.ErrNotFound)
		_, err = s.UseSMSCode(ctx(t), "s1", "login", "wrong", t0, nil)
		wantIs(t, "use a wrong hash", err, auth.ErrNotFound)
		_, err = s.UseSMSCode(ctx(t), "s1", "login", "h1", t0.Add(5*time.Minute), nil)
		wantIs(t, "use at its expiry", err, auth.ErrNotFound)
		phone, err := s.UseSMSCode(ctx(t), "s1", "login", "h1", t0.Add(5*time.Minute-time.Microsecond), nil)
		must(t, "use just before expiry", err)
		wantString(t, "phone of the code", phone, "p1")
		_, err = s.UseSMSCode(ctx(t), "s1", "login", "h1", t0, nil)
		wantIs(t, "use again", err, auth.ErrNotFound)
	}},
	{"A code used with the session's rotation: all or nothing", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		addSession(t, s, newSession("s1", "u1", "th1"))
		addPhone(t, s, "p1", "u1", nil)
		must(t, "put code", s.PutSMSCode(ctx(t), smsCode("s1", "u1", "login", "p1", "h1")))
		rotate := func(old, hash string) *auth.SessionRotation { return rotation("s1", "u1", old, hash, t0) }
		_, err := s.UseSMSCode(ctx(t), "s1", "login", "h1", t0, rotate("stale", "th2"))
		wantIs(t, "use with a stale rotation", err, auth.ErrSessionRotated)
		_, err = s.UseSMSCode(ctx(t), "s1", "login", "wrong", t0, rotate("th1", "th2"))
		wantIs(t, "use a wrong code with a rotation", err, auth.ErrNotFound)
		// A wrong code is wrong whatever the session: ErrSessionRotated
		// (which clears a count) needs the right one.
		_, err = s.UseSMSCode(ctx(t), "s1", "login", "wrong", t0, rotate("stale", "th2"))
		wantIs(t, "use a wrong code with a stale rotation", err, auth.ErrNotFound)
		_, err = s.SessionByTokenHash(ctx(t), "th1")
		must(t, "session after lost uses", err)
		phone, err := s.UseSMSCode(ctx(t), "s1", "login", "h1", t0, rotate("th1", "th2"))
		must(t, "use with a rotation (the code was kept by the lost rotation)", err)
		wantString(t, "phone of the code", phone, "p1")
		rotated, err := s.SessionByTokenHash(ctx(t), "th2")
		must(t, "rotated session", err)
		wantString(t, "rotated session state", string(rotated.State), string(auth.StateAuthenticated))
		_, err = s.UseSMSCode(ctx(t), "s1", "login", "h1", t0, rotate("th2", "th3"))
		wantIs(t, "use again", err, auth.ErrNotFound)
	}},
	{"A resend replaces the session's code", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		addSession(t, s, newSession("s1", "u1", "th1"))
		addPhone(t, s, "p1", "u1", nil)
		must(t, "put first code", s.PutSMSCode(ctx(t), smsCode("s1", "u1", "login", "p1", "old")))
		must(t, "put second code", s.PutSMSCode(ctx(t), smsCode("s1", "u1", "login", "p1", "new")))
		_, err := s.UseSMSCode(ctx(t), "s1", "login", "old", t0, nil)
		wantIs(t, "use the voided code", err, auth.ErrNotFound)
		_, err = s.UseSMSCode(ctx(t), "s1", "login", "new", t0, nil)
		must(t, "use the new code", err)
	}},
	{"Deleting a phone deletes its codes; deleting a session deletes its code", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		addSession(t, s, newSession("s1", "u1", "th1"))
		addSession(t, s, newSession("s2", "u1", "th2"))
		addPhone(t, s, "p1", "u1", nil)
		must(t, "put code s1", s.PutSMSCode(ctx(t), smsCode("s1", "u1", "login", "p1", "h1")))
		must(t, "put code s2", s.PutSMSCode(ctx(t), smsCode("s2", "u1", "login", "p1", "h2")))
		must(t, "delete session s2", s.DeleteSession(ctx(t), "s2"))
		must(t, "put the session back", s.CreateSession(ctx(t), newSession("s2", "u1", "th2")))
		_, err := s.UseSMSCode(ctx(t), "s2", "login", "h2", t0, nil)
		wantIs(t, "use the code of a deleted session", err, auth.ErrNotFound)
		wantIs(t, "delete another user's phone", s.DeleteSMSPhone(ctx(t), "u2", "p1"), auth.ErrNotFound)
		must(t, "delete phone", s.DeleteSMSPhone(ctx(t), "u1", "p1"))
		wantIs(t, "delete phone again", s.DeleteSMSPhone(ctx(t), "u1", "p1"), auth.ErrNotFound)
		_, err = s.UseSMSCode(ctx(t), "s1", "login", "h1", t0, nil)
		wantIs(t, "use a code of a deleted phone", err, auth.ErrNotFound)
	}},
	{"DeleteSecondFactors removes phones, pending phones and codes", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		addSession(t, s, newSession("s1", "u1", "th1"))
		addPhone(t, s, "p1", "u1", nil)
		must(t, "put pending", s.PutPendingSMS(ctx(t), auth.PendingSMS{ID: "p2", UserID: "u1", Name: "B", Phone: "s2", CreatedAt: t0}))
		must(t, "put code", s.PutSMSCode(ctx(t), smsCode("s1", "u1", "login", "p1", "h1")))
		must(t, "delete second factors", s.DeleteSecondFactors(ctx(t), "u1"))
		if got := phoneIDs(t, s, "u1"); len(got) != 0 {
			t.Errorf("phones after delete: %v", got)
		}
		_, err := s.PendingSMS(ctx(t), "u1")
		wantIs(t, "pending after delete", err, auth.ErrNotFound)
		_, err = s.UseSMSCode(ctx(t), "s1", "login", "h1", t0, nil)
		wantIs(t, "code after delete", err, auth.ErrNotFound)
	}},
	{"TouchSMSPhone records the last use", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		addPhone(t, s, "p1", "u1", nil)
		must(t, "touch", s.TouchSMSPhone(ctx(t), "p1", t0.Add(time.Hour)))
		ps, err := s.SMSPhones(ctx(t), "u1")
		must(t, "list phones", err)
		if len(ps) != 1 {
			t.Fatalf("phones: got %d, want 1", len(ps))
		}
		wantTime(t, "last used", ps[0].LastUsedAt, t0.Add(time.Hour))
		wantTime(t, "created", ps[0].CreatedAt, t0)
		wantString(t, "sealed phone", ps[0].Phone, "sealed-phone-p1")
	}},
	{"ClaimSMSSend enforces the cooldown and the hourly count", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		addUser(t, s, "u2")
		claim := func(userID string, at time.Time) (bool, error) {
			return s.ClaimSMSSend(ctx(t), userID, at, at.Add(-30*time.Second+time.Microsecond), at.Add(-time.Hour+time.Microsecond), 10)
		}
		ok, err := claim("u1", t0)
		wantBool(t, "first send", ok, err, true)
		ok, err = claim("u1", t0.Add(29*time.Second))
		wantBool(t, "send within the cooldown", ok, err, false)
		ok, err = claim("u2", t0.Add(time.Second))
		wantBool(t, "another user's send", ok, err, true)
		at := t0
		for i := 2; i <= 10; i++ {
			at = at.Add(30 * time.Second)
			ok, err = claim("u1", at)
			wantBool(t, "send after the cooldown", ok, err, true)
		}
		ok, err = claim("u1", at.Add(time.Minute))
		wantBool(t, "11th send within the hour", ok, err, false)
		sends, err := s.SMSSendsSince(ctx(t), "u1", t0)
		must(t, "list sends", err)
		wantInt(t, "sends recorded", len(sends), 10)
		if len(sends) > 0 {
			wantTime(t, "oldest send", sends[0], t0)
		}
		ok, err = claim("u1", t0.Add(time.Hour))
		wantBool(t, "send once the first left the hour", ok, err, true)
	}},
	{"SeeClient reports a client new once per user", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		addUser(t, s, "u2")
		seen, err := s.KnownClient(ctx(t), "u1", "192.0.2.1", "Firefox on Linux")
		must(t, "known client of a new user", err)
		if seen != (auth.ClientSeen{}) {
			t.Errorf("known client of a new user: got %+v, want nothing known", seen)
		}
		ok, err := s.SeeClient(ctx(t), "u1", "ip", "192.0.2.1", t0)
		wantBool(t, "first sight of an ip", ok, err, true)
		ok, err = s.SeeClient(ctx(t), "u1", "ip", "192.0.2.1", t0)
		wantBool(t, "second sight of an ip", ok, err, false)
		ok, err = s.SeeClient(ctx(t), "u1", "ua", "192.0.2.1", t0)
		wantBool(t, "same value of another kind", ok, err, true)
		ok, err = s.SeeClient(ctx(t), "u2", "ip", "192.0.2.1", t0)
		wantBool(t, "same ip for another user", ok, err, true)
		seen, err = s.KnownClient(ctx(t), "u1", "192.0.2.1", "192.0.2.1")
		must(t, "known client", err)
		if want := (auth.ClientSeen{Any: true, Network: true, Family: true}); seen != want {
			t.Errorf("known client: got %+v, want %+v", seen, want)
		}
		seen, err = s.KnownClient(ctx(t), "u1", "198.51.100.7", "Firefox on Linux")
		must(t, "another client", err)
		if want := (auth.ClientSeen{Any: true}); seen != want {
			t.Errorf("another client: got %+v, want %+v", seen, want)
		}
	}},
	{"SeeClients records a first sign-in's clients in one", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		must(t, "see clients", s.SeeClients(ctx(t), "u1", t0, auth.SeenClient{Kind: "ua", Value: "Firefox on Linux"}, auth.SeenClient{Kind: "ip", Value: "192.0.2.1"}))
		seen, err := s.KnownClient(ctx(t), "u1", "192.0.2.1", "Firefox on Linux")
		must(t, "known client", err)
		if want := (auth.ClientSeen{Any: true, Network: true, Family: true}); seen != want {
			t.Errorf("known client: got %+v, want %+v", seen, want)
		}
		must(t, "see the same clients again", s.SeeClients(ctx(t), "u1", t0, auth.SeenClient{Kind: "ip", Value: "192.0.2.1"}, auth.SeenClient{Kind: "ip", Value: "192.0.2.9"}))
		ok, err := s.SeeClient(ctx(t), "u1", "ip", "192.0.2.9", t0)
		wantBool(t, "a client SeeClients recorded among known ones", ok, err, false)
		must(t, "see no clients", s.SeeClients(ctx(t), "u1", t0))
	}},
}

func newDelivery(id string, next time.Time) auth.Delivery {
	return auth.Delivery{ID: id, Kind: "alert", Channel: "email", Payload: "sealed-" + id, CreatedAt: t0, NextAt: next}
}

func claimIDs(t *testing.T, s auth.Store, owner string, now time.Time, limit int) []string {
	t.Helper()
	ds, err := s.ClaimDeliveries(ctx(t), owner, now, now.Add(time.Minute), limit)
	must(t, "claim deliveries", err)
	ids := []string{}
	for _, d := range ds {
		ids = append(ids, d.ID)
	}
	return ids
}

var deliveryCases = []testCase{
	{"ClaimDeliveries leases due deliveries, oldest due first, and counts attempts", func(t *testing.T, s auth.Store) {
		must(t, "add d2", s.AddDelivery(ctx(t), newDelivery("d2", t0.Add(time.Second))))
		must(t, "add d1", s.AddDelivery(ctx(t), newDelivery("d1", t0)))
		must(t, "add d3", s.AddDelivery(ctx(t), newDelivery("d3", t0.Add(time.Hour))))
		ds, err := s.ClaimDeliveries(ctx(t), "w1", t0.Add(time.Second), t0.Add(time.Minute), 10)
		must(t, "claim", err)
		if len(ds) != 2 || ds[0].ID != "d1" || ds[1].ID != "d2" {
			t.Fatalf("claimed %+v, want d1 then d2", ds)
		}
		d := ds[0]
		wantString(t, "payload", d.Payload, "sealed-d1")
		wantString(t, "owner", d.LeaseOwner, "w1")
		wantInt(t, "attempts", d.Attempts, 1)
		wantTime(t, "lease", d.LeaseUntil, t0.Add(time.Minute))
		if got := claimIDs(t, s, "w2", t0.Add(30*time.Second), 10); len(got) != 0 {
			t.Errorf("claimed leased deliveries: %v", got)
		}
		if got := claimIDs(t, s, "w2", t0.Add(time.Minute), 1); !slices.Equal(got, []string{"d1"}) {
			t.Errorf("claim after the lease ended (limit 1): got %v, want [d1]", got)
		}
	}},
	{"Retry, fail and delete need the lease; a retry is due at its time", func(t *testing.T, s auth.Store) {
		must(t, "add", s.AddDelivery(ctx(t), newDelivery("d1", t0)))
		claimIDs(t, s, "w1", t0, 10)
		ok, err := s.RetryDelivery(ctx(t), "d1", "w2", t0.Add(time.Hour), "boom")
		wantBool(t, "retry by a worker without the lease", ok, err, false)
		ok, err = s.RetryDelivery(ctx(t), "d1", "w1", t0.Add(time.Hour), "boom")
		wantBool(t, "retry by the lease holder", ok, err, true)
		if got := claimIDs(t, s, "w1", t0.Add(time.Hour-time.Second), 10); len(got) != 0 {
			t.Errorf("claimed before the retry is due: %v", got)
		}
		ds, err := s.ClaimDeliveries(ctx(t), "w2", t0.Add(time.Hour), t0.Add(2*time.Hour), 10)
		must(t, "claim when due", err)
		if len(ds) != 1 || ds[0].Attempts != 2 {
			t.Fatalf("claim when due: got %+v, want d1 at attempt 2", ds)
		}
		ok, err = s.FailDelivery(ctx(t), "d1", "w1", t0, "x")
		wantBool(t, "fail by a worker without the lease", ok, err, false)
		ok, err = s.FailDelivery(ctx(t), "d1", "w2", t0.Add(time.Hour), "gave up")
		wantBool(t, "fail by the lease holder", ok, err, true)
		if got := claimIDs(t, s, "w1", t0.Add(100*time.Hour), 10); len(got) != 0 {
			t.Errorf("claimed a given-up delivery: %v", got)
		}
		vs, err := s.SealedValues(ctx(t))
		must(t, "sealed values", err)
		for _, v := range vs {
			if v.Kind == "delivery" {
				t.Errorf("a given-up delivery still lists a sealed payload")
			}
		}
		n, err := s.PurgeDeliveries(ctx(t), t0.Add(100*time.Hour), t0.Add(time.Hour))
		must(t, "purge before the failure is old", err)
		wantInt(t, "purged", int(n), 0)
		n, err = s.PurgeDeliveries(ctx(t), t0.Add(100*time.Hour), t0.Add(time.Hour+time.Second))
		must(t, "purge", err)
		wantInt(t, "purged", int(n), 1)
	}},
	{"An expired code is not claimed and is purged", func(t *testing.T, s auth.Store) {
		d := newDelivery("d1", t0)
		d.Kind, d.Channel, d.ExpiresAt = "code", "sms", t0.Add(5*time.Minute)
		must(t, "add", s.AddDelivery(ctx(t), d))
		if got := claimIDs(t, s, "w1", t0.Add(5*time.Minute), 10); len(got) != 0 {
			t.Errorf("claimed an expired code: %v", got)
		}
		n, err := s.PurgeDeliveries(ctx(t), t0.Add(5*time.Minute), t0)
		must(t, "purge", err)
		wantInt(t, "purged", int(n), 1)
	}},
	{"A delivery added with a lease is not claimed until it ends; delete removes it", func(t *testing.T, s auth.Store) {
		d := newDelivery("d1", t0)
		d.LeaseOwner, d.LeaseUntil, d.Attempts = "me", t0.Add(time.Minute), 1
		must(t, "add leased", s.AddDelivery(ctx(t), d))
		if got := claimIDs(t, s, "w1", t0.Add(59*time.Second), 10); len(got) != 0 {
			t.Errorf("claimed a leased delivery: %v", got)
		}
		must(t, "delete", s.DeleteDelivery(ctx(t), "d1"))
		if got := claimIDs(t, s, "w1", t0.Add(time.Hour), 10); len(got) != 0 {
			t.Errorf("claimed a deleted delivery: %v", got)
		}
	}},
	{"Sealed phones and deliveries are listed and replaced for key rotation", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		addPhone(t, s, "p1", "u1", nil)
		must(t, "put pending", s.PutPendingSMS(ctx(t), auth.PendingSMS{ID: "p2", UserID: "u1", Name: "B", Phone: "sealed-p2", CreatedAt: t0}))
		must(t, "add delivery", s.AddDelivery(ctx(t), newDelivery("d1", t0)))
		vs, err := s.SealedValues(ctx(t))
		must(t, "sealed values", err)
		want := []string{"delivery d1 sealed-d1", "sms p1 sealed-phone-p1", "sms_pending p2 sealed-p2"}
		if got := sealedSet(vs); !slices.Equal(got, want) {
			t.Errorf("sealed values:\n got %q\nwant %q", got, want)
		}
		for _, c := range []struct{ kind, id, old string }{
			{"sms", "p1", "sealed-phone-p1"}, {"sms_pending", "p2", "sealed-p2"}, {"delivery", "d1", "sealed-d1"},
		} {
			ok, err := s.ReplaceSealed(ctx(t), c.kind, c.id, "stale", "new")
			wantBool(t, "replace "+c.kind+" with a stale value", ok, err, false)
			ok, err = s.ReplaceSealed(ctx(t), c.kind, c.id, c.old, "new-"+c.kind)
			wantBool(t, "replace "+c.kind, ok, err, true)
		}
		ps, err := s.SMSPhones(ctx(t), "u1")
		must(t, "list phones", err)
		if len(ps) != 1 || ps[0].Phone != "new-sms" {
			t.Errorf("phone after replace: got %+v", ps)
		}
	}},
}

var smsConcurrencyCases = []testCase{
	{"UseSMSCode accepts a code once", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		addSession(t, s, newSession("s1", "u1", "th1"))
		addPhone(t, s, "p1", "u1", nil)
		must(t, "put code", s.PutSMSCode(ctx(t), smsCode("s1", "u1", "login", "p1", "h1")))
		oks, errs := concurrently(racers, func(int) (bool, error) {
			_, err := s.UseSMSCode(ctx(t), "s1", "login", "h1", t0, nil)
			if errors.Is(err, auth.ErrNotFound) {
				return false, nil
			}
			return err == nil, err
		})
		wantOneTrue(t, "use sms code", oks, errs)
	}},
	{"ClaimDeliveries by racing workers leases a delivery once", func(t *testing.T, s auth.Store) {
		for _, id := range []string{"d1", "d2", "d3"} {
			must(t, "add "+id, s.AddDelivery(ctx(t), newDelivery(id, t0)))
		}
		got, errs := concurrently(racers, func(i int) ([]auth.Delivery, error) {
			return s.ClaimDeliveries(ctx(t), "w"+string(rune('a'+i)), t0, t0.Add(time.Minute), 1)
		})
		seen := map[string]int{}
		for i, ds := range got {
			if errs[i] != nil {
				t.Errorf("claim #%d: %v", i, errs[i])
			}
			for _, d := range ds {
				seen[d.ID]++
			}
		}
		for _, id := range []string{"d1", "d2", "d3"} {
			if seen[id] != 1 {
				t.Errorf("%s claimed %d times, want exactly once", id, seen[id])
			}
		}
	}},
	{"ClaimSMSSend lets one of racing sends through the cooldown", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		oks, errs := concurrently(racers, func(int) (bool, error) {
			return s.ClaimSMSSend(ctx(t), "u1", t0, t0.Add(-30*time.Second), t0.Add(-time.Hour), 10)
		})
		wantOneTrue(t, "claim sms send", oks, errs)
	}},
}
