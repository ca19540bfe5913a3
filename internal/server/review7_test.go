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
	c := e.deviceSignedIn(u)
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
	trusted := e.Clock.Now()

	// The same database, served with a TTL of one day.
	short := newEnv(t, func(o *options) {
		o.dbPath, o.auth.Keys, o.deps.TrustedDeviceTTL = e.DBPath, keys, 24*time.Hour
	})
	c.e = short
	short.Clock.Advance(2 * time.Hour)
	wantStatus(t, c.login(u.email), "authenticated")
	r := c.do("GET", "/api/devices", nil).want(t, 200, "")
	want := trusted.Add(24 * time.Hour).UTC().Format(time.RFC3339)
	if exp := r.Body["devices"].([]any)[0].(map[string]any)["expires_at"]; exp != want {
		t.Errorf("listed expires_at %v, want the lowered TTL's %s", exp, want)
	}
	short.Clock.Advance(23 * time.Hour) // a day after the device was trusted, well within 720 h
	wantStatus(t, c.login(u.email), "2fa_required")
	if c.cookie(server.DeviceCookie) != "" {
		t.Errorf("the device cookie past the lowered TTL was not cleared")
	}
}

// gateStore holds one armed store call, before it runs, until the test
// releases it.
type gateStore struct {
	auth.Store
	mu       sync.Mutex
	armed    map[string]bool
	entered  chan struct{}
	released chan struct{}
}

func withGateStore(g *gateStore) func(*options) {
	return func(o *options) {
		o.wrapStore = func(s auth.Store) auth.Store { g.Store = s; return g }
	}
}

func newGateStore() *gateStore {
	return &gateStore{armed: map[string]bool{}, entered: make(chan struct{}), released: make(chan struct{})}
}

func (g *gateStore) arm(method string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.armed[method] = true
}

func (g *gateStore) hold(method string) {
	g.mu.Lock()
	armed := g.armed[method]
	delete(g.armed, method)
	g.mu.Unlock()
	if armed {
		g.entered <- struct{}{}
		<-g.released
	}
}

func (g *gateStore) AddTrustedDevice(ctx context.Context, d auth.TrustedDevice, keep int) error {
	g.hold("AddTrustedDevice")
	return g.Store.AddTrustedDevice(ctx, d, keep)
}

func (g *gateStore) CreateSession(ctx context.Context, s auth.Session) error {
	g.hold("CreateSession")
	return g.Store.CreateSession(ctx, s)
}

// heldRequest starts c.do on another goroutine once method is armed, waits
// until the request reaches it, and returns a function that lets it go on
// and returns its response.
func heldRequest(g *gateStore, method string, c *client, verb, path string, body any) func() *response {
	g.arm(method)
	done := make(chan *response, 1)
	go func() { done <- c.do(verb, path, body) }()
	<-g.entered
	return func() *response {
		g.released <- struct{}{}
		return <-done
	}
}

func TestDeviceTrustedDuringARevocationIsRemoved(t *testing.T) {
	for _, tc := range []struct {
		name   string
		revoke func(t *testing.T, e *env, u enrolled)
	}{
		{"PasswordChange", func(t *testing.T, e *env, u enrolled) {
			changePassword(u.c, pw, newPW).want(t, 204, "")
		}},
		{"Disable2FA", func(t *testing.T, e *env, u enrolled) {
			u.c.do("POST", "/api/2fa/disable", nil).want(t, 204, "")
		}},
		{"AdminReset", func(t *testing.T, e *env, u enrolled) {
			id := u.c.do("GET", "/api/me", nil).want(t, 200, "").str("user", "id")
			if err := e.Auth.ResetTwoFactor(t.Context(), auth.Client{}, id); err != nil {
				t.Fatalf("reset 2fa: %v", err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGateStore()
			e := newEnv(t, withDevices, withGateStore(g))
			u := e.enroll("ada@example.com")
			c := e.pendingLogin(u.email)
			e.Clock.Advance(30 * time.Second)
			finish := heldRequest(g, "AddTrustedDevice", c, "POST", "/api/2fa/verify",
				map[string]any{"method": "totp", "code": e.code(u.secret), "remember_device": true})
			tc.revoke(t, e, u) // while the device is about to be stored
			finish()
			if n := len(u.c.do("GET", "/api/devices", nil).want(t, 200, "").Body["devices"].([]any)); n != 0 {
				t.Errorf("got %d devices after the revocation, want 0", n)
			}
			if c.cookie(server.DeviceCookie) != "" {
				t.Errorf("a device cookie was set for a device that was revoked")
			}
		})
	}
}

func TestDeviceRevokedDuringItsLoginSignsNothingIn(t *testing.T) {
	g := newGateStore()
	e := newEnv(t, withDevices, withGateStore(g))
	u := e.enroll("ada@example.com")
	c := e.rememberedLogin(u)
	c.do("POST", "/api/logout", nil).want(t, 204, "")
	id := u.c.do("GET", "/api/devices", nil).want(t, 200, "").Body["devices"].([]any)[0].(map[string]any)["id"].(string)

	// The login has checked and rotated the device token and is about to
	// store its session when the owner revokes the device.
	finish := heldRequest(g, "CreateSession", c, "POST", "/api/login", map[string]string{"email": u.email, "password": pw})
	u.c.do("DELETE", "/api/devices/"+id, nil).want(t, 204, "")
	wantStatus(t, finish().want(t, 200, ""), "2fa_required")
	c.do("GET", "/api/me", nil).want(t, 401, "unauthenticated")
}

func TestTrustedDevicesPerUserAreCapped(t *testing.T) {
	e := newEnv(t, withDevices)
	u := e.enroll("ada@example.com")
	for range auth.MaxTrustedDevices + 1 {
		e.rememberedLogin(u)
	}
	devs := u.c.do("GET", "/api/devices", nil).want(t, 200, "").Body["devices"].([]any)
	if len(devs) != 20 {
		t.Errorf("got %d devices after trusting 21, want 20", len(devs))
	}
}
