package server_test

import (
	"testing"
	"time"
)

const adminToken = "test-admin-token-0123456789abcdef"

func withAdmin(o *options) { o.deps.AdminToken = adminToken }

// admin returns a client that sends the admin token, as curl would: no
// Origin or Sec-Fetch-Site header.
func (e *env) admin() *client {
	c := e.client()
	c.header.Set("Authorization", "Bearer "+adminToken)
	return c
}

// userID looks a user up through the admin API.
func (e *env) userID(email string) string {
	e.t.Helper()
	r := e.admin().do("GET", "/api/admin/users?email="+email, nil).want(e.t, 200, "")
	users := r.Body["users"].([]any)
	if len(users) != 1 {
		e.t.Fatalf("got %d users for %s, want 1", len(users), email)
	}
	return users[0].(map[string]any)["id"].(string)
}

func TestAdminToken(t *testing.T) {
	routes := []struct{ method, path string }{
		{"POST", "/api/admin/users"},
		{"GET", "/api/admin/users"},
		{"POST", "/api/admin/users/x/reset-2fa"},
		{"POST", "/api/admin/users/x/unlock"},
		{"GET", "/api/admin/events"},
	}
	t.Run("OffWithoutAConfiguredToken", func(t *testing.T) {
		e := newEnv(t)
		for _, h := range []string{"", "Bearer ", "Bearer x"} {
			c := e.client()
			if h != "" {
				c.header.Set("Authorization", h)
			}
			for _, rt := range routes {
				c.do(rt.method, rt.path, map[string]string{}).want(t, 401, "unauthenticated")
			}
		}
	})

	t.Run("WrongTokenRefusedOnEveryRoute", func(t *testing.T) {
		e := newEnv(t, withAdmin)
		c := e.client()
		c.header.Set("Authorization", "Bearer "+adminToken+"x")
		for _, rt := range routes {
			c.do(rt.method, rt.path, map[string]string{"email": "x@example.com", "password": pw}).want(t, 401, "unauthenticated")
		}
	})

	e := newEnv(t, withAdmin)
	t.Run("MissingOrMalformedTokenRefused", func(t *testing.T) {
		for _, h := range []string{"", "Bearer", "Bearer " + adminToken[:len(adminToken)-1], "Basic " + adminToken, adminToken} {
			c := e.client()
			if h != "" {
				c.header.Set("Authorization", h)
			}
			c.do("POST", "/api/admin/users", map[string]string{"email": "x@example.com", "password": pw}).want(t, 401, "unauthenticated")
		}
		// A user session is not an admin credential.
		e.register("user@example.com", pw).do("GET", "/api/admin/users", nil).want(t, 401, "unauthenticated")
	})

	t.Run("RightTokenAcceptedWithoutBrowserHeaders", func(t *testing.T) {
		e.admin().do("GET", "/api/admin/users", nil).want(t, 200, "")
		e.admin().do("POST", "/api/admin/users", map[string]string{"email": "curl@example.com", "password": pw}).want(t, 201, "")
	})

	t.Run("CrossSiteBrowserRequestRefused", func(t *testing.T) {
		c := e.admin()
		c.header.Set("Sec-Fetch-Site", "cross-site")
		c.header.Set("Origin", "https://evil.example")
		c.do("POST", "/api/admin/users", map[string]string{"email": "evil@example.com", "password": pw}).want(t, 403, "invalid_request")
	})

	t.Run("GuessingIsRateLimitedPerIP", func(t *testing.T) {
		e := newEnv(t, withAdmin)
		bad := e.client()
		bad.header.Set("Authorization", "Bearer wrong")
		for range 10 {
			bad.do("GET", "/api/admin/users", nil).want(t, 401, "unauthenticated")
		}
		bad.do("GET", "/api/admin/users", nil).want(t, 429, "rate_limited")
		e.admin().do("GET", "/api/admin/users", nil).want(t, 429, "rate_limited")
	})
}

func TestAdminUsers(t *testing.T) {
	e := newEnv(t, withAdmin)
	a := e.admin()

	r := a.do("POST", "/api/admin/users", map[string]string{"email": " New@Example.com ", "password": pw}).want(t, 201, "")
	user := r.Body["user"].(map[string]any)
	if user["email"] != "new@example.com" || user["two_factor_enabled"] != false || user["id"] == "" {
		t.Errorf("created user: got %s", r.Raw)
	}
	a.do("POST", "/api/admin/users", map[string]string{"email": "new@example.com", "password": pw}).want(t, 409, "email_taken")
	a.do("POST", "/api/admin/users", map[string]string{"email": "short@example.com", "password": "short"}).want(t, 400, "invalid_request")
	wantStatus(t, e.client().login("new@example.com"), "authenticated")

	e.enroll("enrolled@example.com")
	r = a.do("GET", "/api/admin/users?email=ENROLLED@example.com", nil).want(t, 200, "")
	users := r.Body["users"].([]any)
	if len(users) != 1 || users[0].(map[string]any)["email"] != "enrolled@example.com" || users[0].(map[string]any)["two_factor_enabled"] != true {
		t.Errorf("find by email: got %s", r.Raw)
	}
	if n := len(a.do("GET", "/api/admin/users?email=nobody@example.com", nil).want(t, 200, "").Body["users"].([]any)); n != 0 {
		t.Errorf("unknown email: got %d users, want 0", n)
	}
	if n := len(a.do("GET", "/api/admin/users", nil).want(t, 200, "").Body["users"].([]any)); n != 2 {
		t.Errorf("all users: got %d, want 2", n)
	}
	a.do("GET", "/api/admin/users?limit=0", nil).want(t, 400, "invalid_request")
}

func TestClosedRegistration(t *testing.T) {
	e := newEnv(t, withAdmin, func(o *options) { o.auth.RegistrationClosed = true })
	e.client().do("POST", "/api/register", map[string]string{"email": "ada@example.com", "password": pw}).want(t, 403, "registration_closed")
	e.admin().do("POST", "/api/admin/users", map[string]string{"email": "ada@example.com", "password": pw}).want(t, 201, "")
	wantStatus(t, e.client().login("ada@example.com"), "authenticated")
}

func TestAdminResetTwoFactor(t *testing.T) {
	e := newEnv(t, withAdmin, withDevices)
	u := e.enroll("ada@example.com")
	device := e.rememberedLogin(u)
	id := e.userID(u.email)
	wantStatus(t, e.client().login(u.email), "2fa_required")

	e.admin().do("POST", "/api/admin/users/"+id+"/reset-2fa", nil).want(t, 204, "")
	// The password alone signs in now.
	c := e.client()
	r := c.login(u.email)
	wantStatus(t, r, "authenticated")
	if r.Body["user"].(map[string]any)["two_factor_enabled"] != false {
		t.Errorf("two_factor_enabled after reset: got %s", r.Raw)
	}
	me := c.do("GET", "/api/me", nil).want(t, 200, "")
	ms := me.Body["methods"].(map[string]any)
	if len(ms["totp"].([]any)) != 0 || ms["backup_codes_remaining"] != float64(0) {
		t.Errorf("factors left after reset: %s", me.Raw)
	}
	if n := len(device.do("GET", "/api/devices", nil).want(t, 200, "").Body["devices"].([]any)); n != 0 {
		t.Errorf("got %d trusted devices after reset, want 0", n)
	}
	if types := c.eventTypes(t); !has(types, "admin.reset_2fa") || !has(types, "device.revoked") {
		t.Errorf("events after reset: %v, want admin.reset_2fa and device.revoked", types)
	}
	if !e.alerted(u.email, "reset") {
		t.Errorf("no alert about the reset")
	}
	e.admin().do("POST", "/api/admin/users/nobody/reset-2fa", nil).want(t, 404, "not_found")
}

func TestAdminUnlock(t *testing.T) {
	e := newEnv(t, withAdmin)
	u := e.enroll("ada@example.com")
	wrong := "000000"
	if e.code(u.secret) == wrong {
		wrong = "111111"
	}
	for range 5 {
		e.pendingLogin(u.email).verify("totp", wrong).want(t, 401, "invalid_code")
	}
	c := e.pendingLogin(u.email)
	c.verify("totp", e.code(u.secret)).want(t, 429, "locked")

	e.admin().do("POST", "/api/admin/users/"+e.userID(u.email)+"/unlock", nil).want(t, 204, "")
	// The right code gets through at once, on the same pending session.
	c.verify("totp", e.code(u.secret)).want(t, 200, "")
	// The count started again: four wrong codes do not lock.
	for range 4 {
		e.pendingLogin(u.email).verify("totp", wrong).want(t, 401, "invalid_code")
	}
	e.Clock.Advance(30 * time.Second)
	e.pendingLogin(u.email).verify("totp", e.code(u.secret)).want(t, 200, "")
	if types := c.eventTypes(t); !has(types, "admin.unlocked") {
		t.Errorf("no admin.unlocked event in %v", types)
	}
	e.admin().do("POST", "/api/admin/users/nobody/unlock", nil).want(t, 404, "not_found")
}

func TestAdminEvents(t *testing.T) {
	e := newEnv(t, withAdmin)
	e.register("a@example.com", pw)
	e.register("b@example.com", pw)
	e.client().do("POST", "/api/login", map[string]string{"email": "a@example.com", "password": pw + "x"})
	idA := e.userID("a@example.com")

	events := func(q string) []map[string]any {
		t.Helper()
		r := e.admin().do("GET", "/api/admin/events"+q, nil).want(t, 200, "")
		var out []map[string]any
		for _, ev := range r.Body["events"].([]any) {
			out = append(out, ev.(map[string]any))
		}
		return out
	}
	all := events("")
	if len(all) != 3 {
		t.Fatalf("got %d events, want 3 (two sign-ups, one failed login)", len(all))
	}
	for _, ev := range events("?user_id=" + idA) {
		if ev["user_id"] != idA {
			t.Errorf("user_id filter let through an event of %v", ev["user_id"])
		}
	}
	if got := events("?user_id=" + idA); len(got) != 2 {
		t.Errorf("events of a: got %d, want 2", len(got))
	}
	if got := events("?type=user.registered"); len(got) != 2 {
		t.Errorf("user.registered events: got %d, want 2", len(got))
	}
	if got := events("?type=login.failed&user_id=" + idA); len(got) != 1 {
		t.Errorf("login.failed events of a: got %d, want 1", len(got))
	}
	if got := events("?limit=1"); len(got) != 1 || got[0]["id"] != all[0]["id"] {
		t.Errorf("limit=1: got %v, want the newest event", got)
	}
	e.admin().do("GET", "/api/admin/events?limit=x", nil).want(t, 400, "invalid_request")
}

// TestAdminQueryParametersAreText: an admin query that is not an id or
// text (a NUL, a control character, bytes that are not UTF-8) is 400, not
// a database error (PostgreSQL refuses NUL in text: it was a 500).
func TestAdminQueryParametersAreText(t *testing.T) {
	e := newEnv(t, withAdmin)
	for _, path := range []string{
		"/api/admin/users?after=%00", "/api/admin/users?after=not-an-id", "/api/admin/users?email=a%00@example.com",
		"/api/admin/users?email=%ff@example.com", "/api/admin/events?user_id=%00", "/api/admin/events?type=2fa.failed%00",
		"/api/admin/events?type=%c2%9b",
	} {
		e.admin().do("GET", path, nil).want(t, 400, "invalid_request")
	}
	e.admin().do("GET", "/api/admin/users?after=", nil).want(t, 200, "")
	e.admin().do("GET", "/api/admin/events?type=2fa.failed", nil).want(t, 200, "")
}
