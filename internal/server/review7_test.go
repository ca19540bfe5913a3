package server_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/twofold-auth/twofold/internal/auth"
	"github.com/twofold-auth/twofold/internal/password"
	"github.com/twofold-auth/twofold/internal/server"
)

// gateHasher holds one armed password check, after it is computed, until the
// test releases it: a login then stands between checking the password and
// writing anything, while the test runs a password change.
type gateHasher struct {
	*password.Hasher
	mu       sync.Mutex
	armed    bool
	rehash   bool // the held check also asks for a rehash
	entered  chan struct{}
	released chan struct{}
}

func newGateHasher() *gateHasher {
	return &gateHasher{Hasher: password.New(cheapParams, 0), entered: make(chan struct{}), released: make(chan struct{})}
}

// arm makes the next Verify call wait for release.
func (h *gateHasher) arm(rehash bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.armed, h.rehash = true, rehash
}

func (h *gateHasher) Verify(ctx context.Context, pw, phc string) (bool, bool, error) {
	ok, rehash, err := h.Hasher.Verify(ctx, pw, phc)
	h.mu.Lock()
	armed := h.armed
	h.armed = false
	rehash = rehash || (armed && h.rehash)
	h.mu.Unlock()
	if armed {
		h.entered <- struct{}{}
		<-h.released
	}
	return ok, rehash, err
}

// heldLogin starts a login on c that stops after checking the password, and
// returns a function that lets it go on and returns its response.
func heldLogin(t *testing.T, h *gateHasher, c *client, email string, rehash bool) func() *response {
	t.Helper()
	h.arm(rehash)
	done := make(chan *response, 1)
	go func() {
		done <- c.do("POST", "/api/login", map[string]string{"email": email, "password": pw})
	}()
	<-h.entered
	return func() *response {
		h.released <- struct{}{}
		return <-done
	}
}

func TestLoginRacingAPasswordChange(t *testing.T) {
	for _, rehash := range []bool{false, true} {
		name := "RacingLoginKeepsNoSession"
		if rehash {
			name = "RehashDoesNotRestoreTheOldPassword"
		}
		t.Run(name, func(t *testing.T) {
			h := newGateHasher()
			e := newEnv(t, func(o *options) { o.auth.Hasher = h })
			owner := e.register("ada@example.com", pw)
			attacker := e.client()
			finish := heldLogin(t, h, attacker, "ada@example.com", rehash)
			changePassword(owner, pw, newPW).want(t, 204, "")
			finish().want(t, 401, "invalid_credentials")
			attacker.do("GET", "/api/me", nil).want(t, 401, "unauthenticated")

			e.client().do("POST", "/api/login", map[string]string{"email": "ada@example.com", "password": pw}).want(t, 401, "invalid_credentials")
			e.client().do("POST", "/api/login", map[string]string{"email": "ada@example.com", "password": newPW}).want(t, 200, "")
			owner.do("GET", "/api/me", nil).want(t, 200, "")
		})
	}

	t.Run("TrustedDeviceLoginKeepsNoSession", func(t *testing.T) {
		h := newGateHasher()
		e := newEnv(t, withDevices, func(o *options) { o.auth.Hasher = h })
		u := e.enroll("ada@example.com")
		thief := e.rememberedLogin(u)
		finish := heldLogin(t, h, thief, u.email, false)
		changePassword(u.c, pw, newPW).want(t, 204, "")
		finish().want(t, 401, "invalid_credentials")
		thief.do("GET", "/api/me", nil).want(t, 401, "unauthenticated")
	})
}

func TestDoubleSubmittedDeviceLoginIsNotTheft(t *testing.T) {
	e := newEnv(t, withDevices)
	u := e.enroll("ada@example.com")
	c := e.rememberedLogin(u)
	tok := c.cookie(server.DeviceCookie)
	c.do("POST", "/api/logout", nil).want(t, 204, "")

	// Two logins from one browser, 20 ms apart: the first rotates the token,
	// the second presents the token just retired.
	first := e.client()
	first.setCookie(server.DeviceCookie, tok)
	wantStatus(t, first.login(u.email), "authenticated")
	e.Clock.Advance(20 * time.Millisecond)
	second := e.client()
	second.setCookie(server.DeviceCookie, tok)
	wantStatus(t, second.login(u.email), "2fa_required")
	if second.cookie(server.DeviceCookie) != "" {
		t.Errorf("the retired token's cookie was not cleared")
	}

	first.do("GET", "/api/me", nil).want(t, 200, "")
	u.c.do("GET", "/api/me", nil).want(t, 200, "")
	if n := len(u.c.do("GET", "/api/devices", nil).want(t, 200, "").Body["devices"].([]any)); n != 1 {
		t.Errorf("got %d devices after a double-submitted login, want 1", n)
	}
	if e.alerted(u.email, "remembered device was revoked") {
		t.Errorf("a double-submitted login raised a theft alert")
	}
	if types := u.c.eventTypes(t); has(types, "device.revoked") {
		t.Errorf("a double-submitted login revoked the device: %v", types)
	}

	// After the grace period the same old token is a copy: theft.
	e.Clock.Advance(auth.DeviceReuseGrace)
	late := e.client()
	late.setCookie(server.DeviceCookie, tok)
	wantStatus(t, late.login(u.email), "2fa_required")
	if !e.alerted(u.email, "remembered device was revoked") {
		t.Errorf("no theft alert for an old token used after the grace period")
	}
	first.do("GET", "/api/me", nil).want(t, 401, "unauthenticated")
}

func TestRevokingADeviceEndsItsSessions(t *testing.T) {
	e := newEnv(t, withDevices)
	u := e.enroll("ada@example.com")
	c := e.rememberedLogin(u)
	c.do("POST", "/api/logout", nil).want(t, 204, "")
	wantStatus(t, c.login(u.email), "authenticated") // signed in by the device
	devs := u.c.do("GET", "/api/devices", nil).want(t, 200, "").Body["devices"].([]any)
	if len(devs) != 1 {
		t.Fatalf("got %d devices, want 1", len(devs))
	}
	id := devs[0].(map[string]any)["id"].(string)
	u.c.do("DELETE", "/api/devices/"+id, nil).want(t, 204, "")
	c.do("GET", "/api/me", nil).want(t, 401, "unauthenticated")
	u.c.do("GET", "/api/me", nil).want(t, 200, "") // a session the device did not open stays
}

func TestLoweredDeviceTTLShortensExistingDevices(t *testing.T) {
	keys := ringOf(mustKey(t))
	e := newEnv(t, withDevices, func(o *options) { o.auth.Keys = keys })
	u := e.enroll("ada@example.com")
	c := e.rememberedLogin(u)

	// The same database, served with a TTL of one day.
	short := newEnv(t, func(o *options) {
		o.dbPath, o.auth.Keys, o.deps.TrustedDeviceTTL = e.DBPath, keys, 24*time.Hour
	})
	c.e = short
	short.Clock.Advance(2 * time.Hour)
	wantStatus(t, c.login(u.email), "authenticated")
	short.Clock.Advance(23 * time.Hour) // a day after the device was trusted, well within 720 h
	wantStatus(t, c.login(u.email), "2fa_required")
	if c.cookie(server.DeviceCookie) != "" {
		t.Errorf("the device cookie past the lowered TTL was not cleared")
	}
}
