package server_test

import (
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twofold-auth/twofold/internal/auth"
	"github.com/twofold-auth/twofold/internal/server"
)

const deviceTTL = 720 * time.Hour

// withDevices turns "remember this device" on.
func withDevices(o *options) { o.deps.TrustedDeviceTTL = deviceTTL }

// login logs c in with the password and returns the response.
func (c *client) login(email string) *response {
	return c.do("POST", "/api/login", map[string]string{"email": email, "password": pw}).want(c.e.t, 200, "")
}

// remember finishes a pending login on c with a TOTP code and
// remember_device, on a fresh time step.
func (e *env) remember(c *client, secret []byte) *response {
	e.t.Helper()
	e.Clock.Advance(30 * time.Second)
	return c.do("POST", "/api/2fa/verify", map[string]any{"method": "totp", "code": e.code(secret), "remember_device": true}).want(e.t, 200, "")
}

// rememberedLogin logs in as u on a new client, ticking "remember this device".
func (e *env) rememberedLogin(u enrolled) *client {
	e.t.Helper()
	c := e.pendingLogin(u.email)
	e.remember(c, u.secret)
	if c.cookie(server.DeviceCookie) == "" {
		e.t.Fatalf("no %s cookie after remember_device", server.DeviceCookie)
	}
	return c
}

// deviceSignedIn is a client whose session u's remembered device signed
// in: a remembered login, a logout, then the password alone.
func (e *env) deviceSignedIn(u enrolled) *client {
	e.t.Helper()
	c := e.rememberedLogin(u)
	c.do("POST", "/api/logout", nil).want(e.t, 204, "")
	wantStatus(e.t, c.login(u.email), "authenticated")
	return c
}

func wantStatus(t testing.TB, r *response, status string) {
	t.Helper()
	if got := r.str("status"); got != status {
		t.Fatalf("login status: got %q, want %q; body: %s", got, status, r.Raw)
	}
}

func TestRememberDevice(t *testing.T) {
	e := newEnv(t, withDevices)
	u := e.enroll("ada@example.com")

	t.Run("CookieIsHttpOnlyLaxAndLastsTheTTL", func(t *testing.T) {
		c := e.pendingLogin(u.email)
		r := e.remember(c, u.secret)
		ck := findCookie(t, r.Header, server.DeviceCookie)
		if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Secure || ck.Path != "/" {
			t.Errorf("cookie attributes: HttpOnly %v, SameSite %v, Secure %v, Path %q; want HttpOnly, Lax, not Secure on http, /",
				ck.HttpOnly, ck.SameSite, ck.Secure, ck.Path)
		}
		if ck.MaxAge != int(deviceTTL/time.Second) {
			t.Errorf("Max-Age: got %d, want %d", ck.MaxAge, int(deviceTTL/time.Second))
		}
		if want := e.Clock.Now().Add(deviceTTL); !ck.Expires.Equal(want) {
			t.Errorf("Expires: got %v, want %v", ck.Expires, want)
		}
		if len(ck.Value) < 43 {
			t.Errorf("token has %d characters, want at least 43 (256 bits)", len(ck.Value))
		}
	})

	t.Run("PasswordAloneSignsInOnTheRememberedDevice", func(t *testing.T) {
		c := e.rememberedLogin(u)
		first := c.cookie(server.DeviceCookie)
		c.do("POST", "/api/logout", nil).want(t, 204, "")
		r := c.login(u.email)
		wantStatus(t, r, "authenticated")
		if r.Body["user"].(map[string]any)["two_factor_enabled"] != true {
			t.Errorf("two_factor_enabled is not true")
		}
		c.do("GET", "/api/me", nil).want(t, 200, "")
		if c.cookie(server.DeviceCookie) == first {
			t.Errorf("the device token did not rotate on use")
		}
		types := c.eventTypes(t)
		for _, want := range []string{"device.trusted", "login.trusted_device"} {
			if !has(types, want) {
				t.Errorf("no %s event in %v", want, types)
			}
		}
	})

	t.Run("AnotherBrowserStillNeedsTheSecondFactor", func(t *testing.T) {
		e.rememberedLogin(u)
		wantStatus(t, e.client().login(u.email), "2fa_required")
	})

	t.Run("WrongPasswordOnTheRememberedDeviceIsRefused", func(t *testing.T) {
		c := e.rememberedLogin(u)
		c.do("POST", "/api/login", map[string]string{"email": u.email, "password": pw + "x"}).want(t, 401, "invalid_credentials")
	})

	t.Run("ExpiresAfterTheTTL", func(t *testing.T) {
		c := e.rememberedLogin(u)
		e.Clock.Advance(deviceTTL)
		wantStatus(t, c.login(u.email), "2fa_required")
		if c.cookie(server.DeviceCookie) != "" {
			t.Errorf("the expired device's cookie was not cleared")
		}
	})
}

func TestDeviceCookieIsBoundToItsUser(t *testing.T) {
	e := newEnv(t, withDevices)
	a := e.enroll("a@example.com")
	b := e.enroll("b@example.com")
	c := e.rememberedLogin(a)
	tokenA := c.cookie(server.DeviceCookie)

	// b signs in on a's remembered browser: b's second factor is still owed.
	wantStatus(t, c.login(b.email), "2fa_required")
	if c.cookie(server.DeviceCookie) != tokenA {
		t.Fatalf("b's login changed a's device cookie")
	}
	// ... and a's device is neither used up nor revoked by it.
	wantStatus(t, c.login(a.email), "authenticated")
	devs := a.c.do("GET", "/api/devices", nil).want(t, 200, "").Body["devices"].([]any)
	if len(devs) != 1 {
		t.Errorf("a has %d devices, want 1", len(devs))
	}
	if e.alerted(a.email, "remembered device") {
		t.Errorf("a was alerted about a stolen device")
	}
}

func TestStolenDeviceTokenIsDetected(t *testing.T) {
	e := newEnv(t, withDevices)
	u := e.enroll("ada@example.com")

	t.Run("CopyUsedAfterTheOwnerRevokesTheDevice", func(t *testing.T) {
		owner := e.rememberedLogin(u)
		thief := e.client()
		thief.setCookie(server.DeviceCookie, owner.cookie(server.DeviceCookie))
		wantStatus(t, owner.login(u.email), "authenticated") // rotates

		// The thief's copy is now an old token (past the grace period for a
		// lost race): the device is revoked.
		e.Clock.Advance(auth.DeviceReuseGrace)
		wantStatus(t, thief.login(u.email), "2fa_required")
		if thief.cookie(server.DeviceCookie) != "" {
			t.Errorf("the stale cookie was not cleared")
		}
		if !e.alerted(u.email, "remembered device was revoked") {
			t.Errorf("no alert about the copied device token")
		}
		evs, err := e.Auth.ListEvents(t.Context(), auth.EventFilter{Type: "device.revoked"})
		if err != nil || len(evs) != 1 || evs[0].Detail["reason"] != "old_token_reused" {
			t.Errorf("device.revoked events: got %d (%v), want 1 with reason old_token_reused", len(evs), err)
		}
		// Every session of the user ended; the owner's current token no longer works.
		u.c.do("GET", "/api/me", nil).want(t, 401, "unauthenticated")
		wantStatus(t, owner.login(u.email), "2fa_required")
	})

	t.Run("OwnerUsingTheOldTokenAfterTheThiefRevokesToo", func(t *testing.T) {
		owner := e.rememberedLogin(u)
		thief := e.client()
		thief.setCookie(server.DeviceCookie, owner.cookie(server.DeviceCookie))
		wantStatus(t, thief.login(u.email), "authenticated") // the thief wins once
		thief.do("GET", "/api/me", nil).want(t, 200, "")
		// ... until the owner signs in with the old token: the device is
		// revoked and the thief's session ended.
		e.Clock.Advance(auth.DeviceReuseGrace)
		wantStatus(t, owner.login(u.email), "2fa_required")
		thief.do("GET", "/api/me", nil).want(t, 401, "unauthenticated")
		wantStatus(t, thief.login(u.email), "2fa_required")
	})

	t.Run("SameTokenTwiceSucceedsOnce", func(t *testing.T) {
		c := e.rememberedLogin(u)
		tok := c.cookie(server.DeviceCookie)
		wantStatus(t, c.login(u.email), "authenticated")
		replay := e.client()
		replay.setCookie(server.DeviceCookie, tok)
		wantStatus(t, replay.login(u.email), "2fa_required")
	})
}

func TestRevokeDevice(t *testing.T) {
	e := newEnv(t, withDevices)
	u := e.enroll("ada@example.com")
	other := e.enroll("other@example.com")
	c := e.rememberedLogin(u)

	r := c.do("GET", "/api/devices", nil).want(t, 200, "")
	devs := r.Body["devices"].([]any)
	if len(devs) != 1 {
		t.Fatalf("got %d devices, want 1: %s", len(devs), r.Raw)
	}
	d := devs[0].(map[string]any)
	for _, k := range []string{"id", "name", "created_at", "expires_at"} {
		if s, _ := d[k].(string); s == "" {
			t.Errorf("device lacks %s: %s", k, r.Raw)
		}
	}
	if _, ok := d["last_used_at"]; !ok {
		t.Errorf("device lacks last_used_at (null when unused): %s", r.Raw)
	}
	id := d["id"].(string)

	other.c.do("DELETE", "/api/devices/"+id, nil).want(t, 404, "not_found")
	c.do("DELETE", "/api/devices/"+id, nil).want(t, 204, "")
	c.do("DELETE", "/api/devices/"+id, nil).want(t, 404, "not_found")
	if n := len(c.do("GET", "/api/devices", nil).want(t, 200, "").Body["devices"].([]any)); n != 0 {
		t.Errorf("got %d devices after revoking, want 0", n)
	}
	wantStatus(t, c.login(u.email), "2fa_required")
	e.client().do("GET", "/api/devices", nil).want(t, 401, "unauthenticated")
}

func TestTTLZeroTurnsRememberDeviceOff(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "twofold.db")
	keys := ringOf(mustKey(t))
	same := func(o *options) { o.dbPath, o.auth.Keys = dbPath, keys }
	on := newEnv(t, withDevices, same)
	u := on.enroll("ada@example.com")
	remembered := on.rememberedLogin(u)

	off := newEnv(t, same)
	off.Clock.Set(on.Clock.Now())
	c := off.pendingLogin(u.email)
	off.Clock.Advance(30 * time.Second)
	r := c.do("POST", "/api/2fa/verify", map[string]any{"method": "totp", "code": off.code(u.secret), "remember_device": true}).want(t, 200, "")
	for _, sc := range r.Header.Values("Set-Cookie") {
		if strings.HasPrefix(sc, server.DeviceCookie+"=") {
			t.Errorf("TTL 0 still set the device cookie")
		}
	}
	// A device remembered while it was on is ignored.
	c2 := off.client()
	c2.setCookie(server.DeviceCookie, remembered.cookie(server.DeviceCookie))
	wantStatus(t, c2.login(u.email), "2fa_required")
}

func TestFactorChangesRevokeDevices(t *testing.T) {
	e := newEnv(t, withDevices)

	t.Run("DisablingTwoFactor", func(t *testing.T) {
		u := e.enroll("disable@example.com")
		c := e.rememberedLogin(u)
		c.do("POST", "/api/2fa/disable", nil).want(t, 204, "")
		if n := len(c.do("GET", "/api/devices", nil).want(t, 200, "").Body["devices"].([]any)); n != 0 {
			t.Errorf("got %d devices after disabling 2FA, want 0", n)
		}
		if types := c.eventTypes(t); !has(types, "device.revoked") {
			t.Errorf("no device.revoked event in %v", types)
		}
	})

	t.Run("RemovingTheLastFactor", func(t *testing.T) {
		u := e.enroll("remove@example.com")
		c := e.rememberedLogin(u)
		c.do("DELETE", "/api/2fa/totp/"+u.totpID, nil).want(t, 204, "")
		if n := len(c.do("GET", "/api/devices", nil).want(t, 200, "").Body["devices"].([]any)); n != 0 {
			t.Errorf("got %d devices after removing the last factor, want 0", n)
		}
	})
}

func TestTrustedDeviceDuringLockout(t *testing.T) {
	e := newEnv(t, withDevices)
	u := e.enroll("ada@example.com")
	c := e.rememberedLogin(u)
	wrong := "000000"
	if e.code(u.secret) == wrong {
		wrong = "111111"
	}
	for range 5 {
		e.pendingLogin(u.email).verify("totp", wrong).want(t, 401, "invalid_code")
	}
	// Someone with only the password is locked out...
	e.Clock.Advance(30 * time.Second)
	e.pendingLogin(u.email).verify("totp", e.code(u.secret)).want(t, 429, "locked")
	// ... while the owner's remembered device still signs in.
	wantStatus(t, c.login(u.email), "authenticated")
	// The count of failures stands: the next wrong code locks again at once.
	e.Clock.Advance(15 * time.Minute)
	e.pendingLogin(u.email).verify("totp", wrong).want(t, 401, "invalid_code")
	e.pendingLogin(u.email).verify("totp", e.code(u.secret)).want(t, 429, "locked")
}

func TestDeviceTokenUsedOnceUnderConcurrency(t *testing.T) {
	e := newEnv(t, withDevices)
	u := e.enroll("ada@example.com")
	tok := e.rememberedLogin(u).cookie(server.DeviceCookie)
	// 8 at once: the per-email password limit admits 10 logins in flight.
	const n = 8
	clients := make([]*client, n)
	for i := range clients {
		clients[i] = e.client()
		clients[i].setCookie(server.DeviceCookie, tok)
	}
	statuses := make([]string, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, c := range clients {
		wg.Go(func() {
			<-start
			statuses[i] = c.do("POST", "/api/login", map[string]string{"email": u.email, "password": pw}).str("status")
		})
	}
	close(start)
	wg.Wait()
	won := 0
	for _, s := range statuses {
		switch s {
		case "authenticated":
			won++
		case "2fa_required":
		default:
			t.Errorf("login status %q, want authenticated or 2fa_required", s)
		}
	}
	if won != 1 {
		t.Errorf("%d of %d concurrent logins with one device token were authenticated, want exactly 1", won, n)
	}
}

func TestDeviceCookieIsSecureOnHTTPS(t *testing.T) {
	e := newEnv(t, withDevices, func(o *options) { o.deps.Secure = true })
	u := e.enroll("ada@example.com")
	c := e.pendingLogin(u.email)
	r := e.remember(c, u.secret)
	if ck := findCookie(t, r.Header, server.DeviceCookie); !ck.Secure || !ck.HttpOnly {
		t.Errorf("device cookie on https: Secure %v, HttpOnly %v; want both", ck.Secure, ck.HttpOnly)
	}
}

// TestChangesFromARememberedBrowserKeepItsSession: a session a remembered
// device signed in used to end with the device when its own password
// change or 2FA disable revoked every device: the password changed, the
// answer was 401 and the browser was signed out.
func TestChangesFromARememberedBrowserKeepItsSession(t *testing.T) {
	deviceSession := func(t *testing.T) (*env, *client, enrolled) {
		e := newEnv(t, withDevices)
		u := e.enroll("ada@example.com")
		return e, e.deviceSignedIn(u), u
	}
	t.Run("PasswordChange", func(t *testing.T) {
		e, c, u := deviceSession(t)
		c.do("POST", "/api/password", map[string]string{"current_password": pw, "new_password": "a brand new password"}).want(t, 204, "")
		c.do("GET", "/api/me", nil).want(t, 200, "")
		e.client().do("POST", "/api/login", map[string]string{"email": u.email, "password": pw}).want(t, 401, "invalid_credentials")
	})
	t.Run("PasswordChangeAfterReauthentication", func(t *testing.T) {
		e, c, u := deviceSession(t)
		e.Clock.Advance(11 * time.Minute)
		c.do("POST", "/api/reauthenticate", map[string]string{"password": pw, "method": "totp", "code": e.code(u.secret)}).want(t, 200, "")
		c.do("POST", "/api/password", map[string]string{"current_password": pw, "new_password": "a brand new password"}).want(t, 204, "")
		c.do("GET", "/api/me", nil).want(t, 200, "")
	})
	t.Run("Disable2FA", func(t *testing.T) {
		_, c, _ := deviceSession(t)
		c.do("POST", "/api/2fa/disable", nil).want(t, 204, "")
		c.do("GET", "/api/me", nil).want(t, 200, "")
		c.do("GET", "/api/devices", nil).want(t, 200, "")
	})
}

// TestRememberedBrowserSignsInWhileStrangersSpendTheAccountLimit: wrong
// passwords from anyone spend the email's shared limit (then 429 for all,
// the right password too); a login presenting the owner's remembered
// device counts in a limit of that device's, so strangers cannot keep the
// owner out, and a copy of the cookie still gets only a few guesses.
func TestRememberedBrowserSignsInWhileStrangersSpendTheAccountLimit(t *testing.T) {
	e := newEnv(t, withDevices)
	u := e.enroll("ada@example.com")
	owner := e.rememberedLogin(u)
	owner.do("POST", "/api/logout", nil).want(t, 204, "")
	bob := e.enroll("bob@example.com")
	bobs := e.rememberedLogin(bob).cookie(server.DeviceCookie)

	wrong := map[string]string{"email": u.email, "password": "a wrong password"}
	right := map[string]string{"email": u.email, "password": pw}
	for range 10 {
		e.client().do("POST", "/api/login", wrong).want(t, 401, "invalid_credentials")
	}
	e.client().do("POST", "/api/login", right).want(t, 429, "rate_limited") // the shared limit is spent

	stranger := e.client()
	stranger.setCookie(server.DeviceCookie, bobs) // a device, but another user's
	stranger.do("POST", "/api/login", right).want(t, 429, "rate_limited")

	wantStatus(t, owner.login(u.email), "authenticated") // the owner's browser

	thief := e.client()
	thief.setCookie(server.DeviceCookie, owner.cookie(server.DeviceCookie))
	for range 10 {
		thief.do("POST", "/api/login", wrong).want(t, 401, "invalid_credentials")
	}
	thief.do("POST", "/api/login", wrong).want(t, 429, "rate_limited") // the device's own limit
}
