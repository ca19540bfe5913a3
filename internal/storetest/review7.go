package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twofold-auth/twofold/internal/auth"
)

// sessionGone reports whether the session with tokenHash is gone.
func sessionGone(t *testing.T, s auth.Store, tokenHash string) bool {
	t.Helper()
	_, err := s.SessionByTokenHash(ctx(t), tokenHash)
	if err != nil && !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("session by token %s: %v", tokenHash, err)
	}
	return err != nil
}

// deviceSessionCases: the password-hash compare-and-set, sessions signed in
// by a trusted device, when tokens were retired, and the cap on devices.
var deviceSessionCases = []testCase{
	{"SetPasswordHashIf replaces only the expected hash", func(t *testing.T, s auth.Store) {
		u := addUser(t, s, "u1")
		ok, err := s.SetPasswordHashIf(ctx(t), "u1", "not-the-hash", "new")
		wantBool(t, "set with a wrong old hash", ok, err, false)
		got, err := s.UserByID(ctx(t), "u1")
		must(t, "user by id", err)
		wantString(t, "password hash after a lost compare-and-set", got.PasswordHash, u.PasswordHash)
		ok, err = s.SetPasswordHashIf(ctx(t), "u1", u.PasswordHash, "new")
		wantBool(t, "set with the right old hash", ok, err, true)
		got, err = s.UserByID(ctx(t), "u1")
		must(t, "user by id", err)
		wantString(t, "password hash", got.PasswordHash, "new")
		ok, err = s.SetPasswordHashIf(ctx(t), "nobody", "h", "new")
		wantBool(t, "set for an unknown user", ok, err, false)
	}},
	{"SetPasswordHashIf wins once", func(t *testing.T, s auth.Store) {
		u := addUser(t, s, "u1")
		oks, errs := concurrently(racers, func(i int) (bool, error) {
			return s.SetPasswordHashIf(ctx(t), "u1", u.PasswordHash, fmt.Sprintf("new-%d", i))
		})
		wantOneTrue(t, "set password hash", oks, errs)
	}},
	{"removing a device ends the sessions it signed in", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		addDevice(t, s, newDevice("d1", "u1", "h1"))
		addDevice(t, s, newDevice("d2", "u1", "h2"))
		addDevice(t, s, newDevice("d3", "u1", "h3"))
		for i, dev := range []string{"d1", "d2", "d3", ""} {
			sess := newSession(fmt.Sprintf("s%d", i), "u1", fmt.Sprintf("sh%d", i))
			sess.DeviceID = dev
			addSession(t, s, sess)
		}
		must(t, "delete device d1", s.DeleteTrustedDevice(ctx(t), "u1", "d1"))
		if !sessionGone(t, s, "sh0") || sessionGone(t, s, "sh1") {
			t.Fatalf("after deleting d1: want only its session gone")
		}
		must(t, "delete second factors", s.DeleteSecondFactors(ctx(t), "u1"))
		if !sessionGone(t, s, "sh1") || !sessionGone(t, s, "sh2") {
			t.Errorf("sessions of devices removed with the second factors are still there")
		}
		if sessionGone(t, s, "sh3") {
			t.Errorf("a session no device signed in was removed")
		}
	}},
	{"DeleteTrustedDevices ends the devices' sessions", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		addDevice(t, s, newDevice("d1", "u1", "h1"))
		sess := newSession("s1", "u1", "sh1")
		sess.DeviceID = "d1"
		addSession(t, s, sess)
		_, err := s.DeleteTrustedDevices(ctx(t), "u1", "")
		must(t, "delete devices", err)
		if !sessionGone(t, s, "sh1") {
			t.Errorf("the device's session outlived it")
		}
	}},
	{"DeleteTrustedDevices keeps the session making the change, detached from its device", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		addUser(t, s, "u2")
		addDevice(t, s, newDevice("d1", "u1", "h1"))
		addDevice(t, s, newDevice("d2", "u2", "h2"))
		for _, x := range []struct{ id, user, hash, device string }{
			{"s1", "u1", "sh1", "d1"}, {"s2", "u1", "sh2", "d1"}, {"s3", "u2", "sh3", "d2"},
		} {
			sess := newSession(x.id, x.user, x.hash)
			sess.DeviceID = x.device
			addSession(t, s, sess)
		}
		n, err := s.DeleteTrustedDevices(ctx(t), "u1", "s1")
		must(t, "delete devices", err)
		wantInt(t, "devices deleted", n, 1)
		if sessionGone(t, s, "sh1") {
			t.Errorf("the session making the change ended with its device")
		}
		if !sessionGone(t, s, "sh2") {
			t.Errorf("another session of the device outlived it")
		}
		// Another user's session is never detached through this user's
		// call: it still ends with its own device.
		_, err = s.DeleteTrustedDevices(ctx(t), "u1", "s3")
		must(t, "delete devices, another user's session to keep", err)
		_, err = s.DeleteTrustedDevices(ctx(t), "u2", "")
		must(t, "delete the other user's devices", err)
		if !sessionGone(t, s, "sh3") {
			t.Errorf("another user's session was detached from its device by this user's call")
		}
	}},
	{"CreateSession for a removed device is ErrNotFound", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		sess := newSession("s1", "u1", "sh1")
		sess.DeviceID = "gone"
		wantIs(t, "create session of a removed device", s.CreateSession(ctx(t), sess), auth.ErrNotFound)
	}},
	{"a retired token tells when it was retired", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		addDevice(t, s, newDevice("d1", "u1", "h1"))
		at := t0.Add(time.Hour)
		ok, err := s.RotateTrustedDevice(ctx(t), "d1", "h1", "h2", at)
		wantBool(t, "rotate", ok, err, true)
		d := wantDevice(t, s, "h1", "d1", true)
		wantTime(t, "retired at", d.RetiredAt, at)
		if d := wantDevice(t, s, "h2", "d1", false); !d.RetiredAt.IsZero() {
			t.Errorf("the current token has a retirement time")
		}
	}},
	{"AddTrustedDevice keeps the newest devices", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		addUser(t, s, "u2")
		addDevice(t, s, newDevice("other", "u2", "other"))
		for i := range 3 {
			addDevice(t, s, newDevice(fmt.Sprintf("d%02d", i), "u1", fmt.Sprintf("h%02d", i)))
		}
		sess := newSession("s1", "u1", "sh1")
		sess.DeviceID = "d00"
		addSession(t, s, sess)
		must(t, "add a device beyond the cap", s.AddTrustedDevice(ctx(t), newDevice("d03", "u1", "h03"), 3))
		wantIDs(t, "devices", deviceIDs(t, s, "u1"), []string{"d01", "d02", "d03"})
		wantIDs(t, "other user's devices", deviceIDs(t, s, "u2"), []string{"other"})
		if !sessionGone(t, s, "sh1") {
			t.Errorf("the evicted device's session is still there")
		}
	}},
	{"concurrent AddTrustedDevice keeps the cap", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		_, errs := concurrently(racers, func(i int) (bool, error) {
			return true, s.AddTrustedDevice(ctx(t), newDevice(fmt.Sprintf("d%02d", i), "u1", fmt.Sprintf("h%02d", i)), 5)
		})
		for i, err := range errs {
			must(t, fmt.Sprintf("add device %d", i), err)
		}
		if n := len(deviceIDs(t, s, "u1")); n != 5 {
			t.Errorf("got %d devices after %d concurrent adds with a cap of 5, want 5", n, racers)
		}
	}},
}
