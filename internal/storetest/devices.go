package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twofold-auth/twofold/internal/auth"
)

func newDevice(id, userID, tokenHash string) auth.TrustedDevice {
	return auth.TrustedDevice{
		ID:        id,
		UserID:    userID,
		TokenHash: tokenHash,
		Name:      "Firefox on Linux",
		CreatedAt: t0,
		ExpiresAt: t0.Add(720 * time.Hour),
	}
}

func addDevice(t *testing.T, s auth.Store, d auth.TrustedDevice) {
	t.Helper()
	must(t, "add device "+d.ID, s.AddTrustedDevice(ctx(t), d, auth.MaxTrustedDevices))
}

func deviceIDs(t *testing.T, s auth.Store, userID string) []string {
	t.Helper()
	ds, err := s.TrustedDevices(ctx(t), userID)
	must(t, "list devices", err)
	ids := []string{}
	for _, d := range ds {
		ids = append(ids, d.ID)
	}
	return ids
}

// wantDevice looks tokenHash up and checks it finds device id with stale.
func wantDevice(t *testing.T, s auth.Store, tokenHash, id string, stale bool) auth.TrustedDevice {
	t.Helper()
	d, gotStale, err := s.TrustedDeviceByToken(ctx(t), tokenHash)
	must(t, "device by token "+tokenHash, err)
	wantString(t, "device id", d.ID, id)
	if gotStale != stale {
		t.Errorf("device by token %s: got stale %v, want %v", tokenHash, gotStale, stale)
	}
	return d
}

var deviceCases = []testCase{
	{"added device is found by its token hash", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		want := newDevice("d1", "u1", "h1")
		addDevice(t, s, want)
		got := wantDevice(t, s, "h1", "d1", false)
		wantString(t, "user id", got.UserID, "u1")
		wantString(t, "token hash", got.TokenHash, "h1")
		wantString(t, "name", got.Name, want.Name)
		wantTime(t, "created at", got.CreatedAt, t0)
		wantTime(t, "expires at", got.ExpiresAt, want.ExpiresAt)
		if !got.LastUsedAt.IsZero() {
			t.Errorf("last used at: got %v, want zero", got.LastUsedAt)
		}
		_, _, err := s.TrustedDeviceByToken(ctx(t), "unknown")
		wantIs(t, "device by unknown token", err, auth.ErrNotFound)
	}},
	{"a token hash belongs to one device", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		addDevice(t, s, newDevice("d1", "u1", "h1"))
		wantIs(t, "add a device with a taken token hash", s.AddTrustedDevice(ctx(t), newDevice("d2", "u1", "h1"), auth.MaxTrustedDevices), auth.ErrDuplicate)
	}},
	{"rotation makes the old hash stale", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		addDevice(t, s, newDevice("d1", "u1", "h1"))
		used := t0.Add(time.Hour)
		ok, err := s.RotateTrustedDevice(ctx(t), "d1", "h1", "h2", used)
		wantBool(t, "rotate h1 to h2", ok, err, true)
		got := wantDevice(t, s, "h2", "d1", false)
		wantTime(t, "last used at", got.LastUsedAt, used)
		wantString(t, "current hash", got.TokenHash, "h2")
		wantDevice(t, s, "h1", "d1", true)

		ok, err = s.RotateTrustedDevice(ctx(t), "d1", "h1", "h3", used)
		wantBool(t, "rotate the retired h1 again", ok, err, false)
		ok, err = s.RotateTrustedDevice(ctx(t), "d1", "h2", "h3", used)
		wantBool(t, "rotate h2 to h3", ok, err, true)
		wantDevice(t, s, "h1", "d1", true)
		wantDevice(t, s, "h2", "d1", true)
		wantDevice(t, s, "h3", "d1", false)
	}},
	{"rotating another device's hash loses", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		addDevice(t, s, newDevice("d1", "u1", "h1"))
		addDevice(t, s, newDevice("d2", "u1", "h2"))
		ok, err := s.RotateTrustedDevice(ctx(t), "d2", "h1", "h3", t0)
		wantBool(t, "rotate d2 with d1's hash", ok, err, false)
		wantDevice(t, s, "h1", "d1", false)
		wantDevice(t, s, "h2", "d2", false)
	}},
	{"TrustedDevices lists the user's devices oldest first", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		addUser(t, s, "u2")
		addDevice(t, s, newDevice("d2", "u1", "h2"))
		addDevice(t, s, newDevice("d1", "u1", "h1"))
		addDevice(t, s, newDevice("d3", "u2", "h3"))
		if got, want := deviceIDs(t, s, "u1"), []string{"d1", "d2"}; !slices.Equal(got, want) {
			t.Errorf("devices of u1: got %v, want %v", got, want)
		}
		if got := deviceIDs(t, s, "nobody"); len(got) != 0 {
			t.Errorf("devices of an unknown user: got %v, want none", got)
		}
	}},
	{"DeleteTrustedDevice removes only the user's own device", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		addUser(t, s, "u2")
		addDevice(t, s, newDevice("d1", "u1", "h1"))
		ok, err := s.RotateTrustedDevice(ctx(t), "d1", "h1", "h1b", t0)
		wantBool(t, "rotate", ok, err, true)
		wantIs(t, "delete u1's device as u2", s.DeleteTrustedDevice(ctx(t), "u2", "d1"), auth.ErrNotFound)
		wantDevice(t, s, "h1b", "d1", false)
		must(t, "delete d1", s.DeleteTrustedDevice(ctx(t), "u1", "d1"))
		wantIs(t, "delete d1 again", s.DeleteTrustedDevice(ctx(t), "u1", "d1"), auth.ErrNotFound)
		for _, h := range []string{"h1", "h1b"} {
			_, _, err := s.TrustedDeviceByToken(ctx(t), h)
			wantIs(t, "device by "+h+" after delete", err, auth.ErrNotFound)
		}
	}},
	{"DeleteTrustedDevices removes all of one user's devices", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		addUser(t, s, "u2")
		addDevice(t, s, newDevice("d1", "u1", "h1"))
		addDevice(t, s, newDevice("d2", "u1", "h2"))
		addDevice(t, s, newDevice("d3", "u2", "h3"))
		n, err := s.DeleteTrustedDevices(ctx(t), "u1", "")
		must(t, "delete u1's devices", err)
		wantInt(t, "devices deleted", n, 2)
		if got := deviceIDs(t, s, "u1"); len(got) != 0 {
			t.Errorf("devices of u1 after delete: got %v, want none", got)
		}
		if got := deviceIDs(t, s, "u2"); !slices.Equal(got, []string{"d3"}) {
			t.Errorf("devices of u2: got %v, want [d3]", got)
		}
		n, err = s.DeleteTrustedDevices(ctx(t), "u1", "")
		must(t, "delete u1's devices again", err)
		wantInt(t, "devices deleted the second time", n, 0)
	}},
	{"DeleteExpiredTrustedDevices removes only expired devices", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		old := newDevice("d1", "u1", "h1")
		old.ExpiresAt = t0.Add(-time.Second)
		addDevice(t, s, old)
		addDevice(t, s, newDevice("d2", "u1", "h2"))
		ok, err := s.RotateTrustedDevice(ctx(t), "d1", "h1", "h1b", t0)
		wantBool(t, "rotate d1", ok, err, true)
		n, err := s.DeleteExpiredTrustedDevices(ctx(t), t0)
		must(t, "delete expired devices", err)
		wantInt(t, "devices deleted", n, 1)
		if got := deviceIDs(t, s, "u1"); !slices.Equal(got, []string{"d2"}) {
			t.Errorf("devices left: got %v, want [d2]", got)
		}
		_, _, err = s.TrustedDeviceByToken(ctx(t), "h1")
		wantIs(t, "retired hash of an expired device", err, auth.ErrNotFound)
	}},
	{"DeleteSecondFactors removes trusted devices too", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		addUser(t, s, "u2")
		addAuthenticator(t, s, newAuthenticator("t1", "u1"), []string{"b1"})
		addDevice(t, s, newDevice("d1", "u1", "h1"))
		addDevice(t, s, newDevice("d2", "u2", "h2"))
		must(t, "delete second factors", s.DeleteSecondFactors(ctx(t), "u1"))
		if got := deviceIDs(t, s, "u1"); len(got) != 0 {
			t.Errorf("devices after DeleteSecondFactors: got %v, want none", got)
		}
		if got := deviceIDs(t, s, "u2"); len(got) != 1 {
			t.Errorf("another user's devices after DeleteSecondFactors: got %v, want [d2]", got)
		}
	}},
}

var accountCases = []testCase{
	{"ListUsers pages in id order", func(t *testing.T, s auth.Store) {
		for _, id := range []string{"u3", "u1", "u4", "u2", "u5"} {
			addUser(t, s, id)
		}
		var got []string
		after := ""
		for page := 0; page < 10; page++ {
			us, err := s.ListUsers(ctx(t), after, 2)
			must(t, fmt.Sprintf("list users after %q", after), err)
			if len(us) == 0 {
				break
			}
			if len(us) > 2 {
				t.Fatalf("page of %d users, want at most 2", len(us))
			}
			for _, u := range us {
				got = append(got, u.ID)
			}
			after = us[len(us)-1].ID
		}
		if want := []string{"u1", "u2", "u3", "u4", "u5"}; !slices.Equal(got, want) {
			t.Errorf("users: got %v, want %v", got, want)
		}
		us, err := s.ListUsers(ctx(t), "", 10)
		must(t, "list users", err)
		wantString(t, "email of the first user", us[0].Email, "u1@example.com")
	}},
	{"ClearAttempts lifts a lockout", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		ok, err := s.ClaimAttempt(ctx(t), "u1", 0, time.Time{}, 7, t0.Add(time.Hour))
		wantBool(t, "claim a lockout", ok, err, true)
		must(t, "clear attempts", s.ClearAttempts(ctx(t), "u1"))
		n, until := userState(t, s, "u1")
		wantInt(t, "failed attempts", n, 0)
		wantTime(t, "locked until", until, time.Time{})
		wantIs(t, "clear attempts of an unknown user", s.ClearAttempts(ctx(t), "nobody"), auth.ErrNotFound)
	}},
}

// deviceRaceCases are the trusted-device races, run with the other concurrency cases.
var deviceRaceCases = []testCase{
	{"RotateTrustedDevice uses a token once", func(t *testing.T, s auth.Store) {
		addUser(t, s, "u1")
		addDevice(t, s, newDevice("d1", "u1", "h0"))
		oks, errs := concurrently(racers, func(i int) (bool, error) {
			return s.RotateTrustedDevice(ctx(t), "d1", "h0", fmt.Sprintf("next-%d", i), t0)
		})
		wantOneTrue(t, "rotate h0", oks, errs)
		winner := slices.Index(oks, true)
		if winner >= 0 {
			wantDevice(t, s, fmt.Sprintf("next-%d", winner), "d1", false)
		}
		wantDevice(t, s, "h0", "d1", true)
	}},
}
