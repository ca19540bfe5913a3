package server_test

import (
	"strings"
	"testing"
	"time"

	"github.com/twofold-auth/twofold/internal/server"
)

const newPW = "a brand new passphrase"

func changePassword(c *client, current, next string) *response {
	return c.do("POST", "/api/password", map[string]string{"current_password": current, "new_password": next})
}

func TestChangePassword(t *testing.T) {
	t.Run("EndsOtherSessionsAndKeepsThisOne", func(t *testing.T) {
		e := newEnv(t)
		c := e.register("ada@example.com", pw)
		other := e.client()
		other.login("ada@example.com")
		pending := e.client()
		pending.login("ada@example.com")
		before := c.cookie(server.SessionCookie)

		changePassword(c, pw, newPW).want(t, 204, "")
		if c.cookie(server.SessionCookie) == before {
			t.Errorf("the session token did not rotate")
		}
		c.do("GET", "/api/me", nil).want(t, 200, "")
		other.do("GET", "/api/me", nil).want(t, 401, "unauthenticated")
		old := e.client()
		old.setCookie(server.SessionCookie, before)
		old.do("GET", "/api/me", nil).want(t, 401, "unauthenticated")

		e.client().do("POST", "/api/login", map[string]string{"email": "ada@example.com", "password": pw}).want(t, 401, "invalid_credentials")
		e.client().do("POST", "/api/login", map[string]string{"email": "ada@example.com", "password": newPW}).want(t, 200, "")

		if !e.alerted("ada@example.com", "password was changed") {
			t.Errorf("no alert about the password change")
		}
		if types := c.eventTypes(t); !has(types, "password.changed") {
			t.Errorf("no password.changed event in %v", types)
		}
		if strings.Contains(e.Logs.String(), newPW) {
			t.Errorf("the log contains the new password")
		}
	})

	t.Run("NeedsRecentAuthentication", func(t *testing.T) {
		e := newEnv(t)
		c := e.register("ada@example.com", pw)
		for range 2 {
			e.Clock.Advance(6 * time.Minute)
			c.do("GET", "/api/me", nil).want(t, 200, "")
		}
		changePassword(c, pw, newPW).want(t, 403, "reauthentication_required")
		c.do("POST", "/api/reauthenticate", map[string]string{"password": pw}).want(t, 200, "")
		changePassword(c, pw, newPW).want(t, 204, "")
	})

	t.Run("ChecksTheCurrentPasswordAndTheNewLength", func(t *testing.T) {
		e := newEnv(t)
		c := e.register("ada@example.com", pw)
		changePassword(c, pw+"x", newPW).want(t, 401, "invalid_credentials")
		changePassword(c, "", newPW).want(t, 400, "invalid_request")
		changePassword(c, pw, "short").want(t, 400, "invalid_request")
		changePassword(c, pw, strings.Repeat("x", 1025)).want(t, 400, "invalid_request")
		e.client().do("POST", "/api/login", map[string]string{"email": "ada@example.com", "password": pw}).want(t, 200, "")
		e.client().do("POST", "/api/password", map[string]string{"current_password": pw, "new_password": newPW}).want(t, 401, "unauthenticated")
	})

	t.Run("RevokesTrustedDevices", func(t *testing.T) {
		e := newEnv(t, withDevices)
		u := e.enroll("ada@example.com")
		c := e.rememberedLogin(u)
		changePassword(c, pw, newPW).want(t, 204, "")
		if n := len(c.do("GET", "/api/devices", nil).want(t, 200, "").Body["devices"].([]any)); n != 0 {
			t.Errorf("got %d devices after the password change, want 0", n)
		}
		r := c.do("POST", "/api/login", map[string]string{"email": u.email, "password": newPW}).want(t, 200, "")
		wantStatus(t, r, "2fa_required")
	})
}

// TestBodyNotUTF8IsRefused: encoding/json turns each invalid byte into
// U+FFFD, so two different Latin-1 passwords would be one password. Such a
// body is 400 invalid_request (JSON is UTF-8, RFC 8259).
func TestBodyNotUTF8IsRefused(t *testing.T) {
	e := newEnv(t)
	e.client().do("POST", "/api/register", "{\"email\":\"latin1@example.com\",\"password\":\"p\xe4ssw\xf6rd-\xe9t\xe9\"}").want(t, 400, "invalid_request")
	e.client().do("POST", "/api/register", "{\"email\":\"latin1@example.com\",\"password\":\"p\u00e4ssw\u00f6rd-\u00e9t\u00e9\"}").want(t, 201, "")
	e.client().do("POST", "/api/login", "{\"email\":\"latin1@example.com\",\"password\":\"p\xfcssw\xfcrd-\xfct\xfc\"}").want(t, 400, "invalid_request")
}

// TestPasswordWithLostTextIsRefused: JSON's unpaired surrogate escapes
// decode to U+FFFD, so "\ud800..." and "\udfff..." would be one password.
func TestPasswordWithLostTextIsRefused(t *testing.T) {
	e := newEnv(t)
	e.client().do("POST", "/api/register", `{"email":"s@example.com","password":"\ud800-a-long-password"}`).want(t, 400, "invalid_request")
	e.client().do("POST", "/api/register", "{\"email\":\"s@example.com\",\"password\":\"\uFFFD-a-long-password\"}").want(t, 400, "invalid_request")
	e.client().do("POST", "/api/register", `{"email":"s@example.com","password":"\ud83d\ude00-a-long-password"}`).want(t, 201, "") // a paired surrogate is an emoji
}
