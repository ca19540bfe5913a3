package server_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/descope/virtualwebauthn"
)

// Tests for the findings of the WebAuthn security review (issue 5).

func TestPasskeyForgedAssertionsNeverLockTheAccount(t *testing.T) {
	e := newEnv(t)
	const email = "victim@example.com"
	_, k, _ := e.withKey(t, email, virtualwebauthn.AuthenticatorOptions{})

	t.Run("BadSignaturesAreNotCounted", func(t *testing.T) {
		// User ids and credential ids are no secrets: a stranger can name
		// both, but cannot sign with the victim's key.
		forger := newVKey(t, virtualwebauthn.AuthenticatorOptions{UserHandle: k.auth.Options.UserHandle})
		forger.cred.ID = k.cred.ID
		for range 6 {
			forger.login(e.client(), nil).want(t, 401, "invalid_credentials")
			k.login(e.client(), func(a *assertion) { a.CorruptSignature = true }).want(t, 401, "invalid_credentials")
		}
		if n := e.failedAttempts(t, email); n != 0 {
			t.Errorf("failed attempts: got %d, want 0", n)
		}
		k.login(e.client(), nil).want(t, 200, "")
	})

	t.Run("ValidlySignedFailuresStillCount", func(t *testing.T) {
		for i := range 5 {
			k.login(e.client(), func(a *assertion) { a.Flags &^= flagUV }).want(t, 401, "invalid_credentials")
			if n := e.failedAttempts(t, email); n != i+1 {
				t.Fatalf("failed attempts: got %d, want %d", n, i+1)
			}
		}
		// Locked now: refused before the signature is even looked at.
		k.login(e.client(), nil).want(t, 429, "locked")
		k.login(e.client(), func(a *assertion) { a.CorruptSignature = true }).want(t, 429, "locked")
	})
}

func TestWebAuthnFailureSaysTheKeyCouldNotBeVerified(t *testing.T) {
	e := newEnv(t)
	const email = "msg@example.com"
	_, k, _ := e.withKey(t, email, virtualwebauthn.AuthenticatorOptions{})
	for _, c := range []*client{e.pendingLogin(email), e.client()} {
		r := k.login(c, func(a *assertion) { a.Flags &^= flagUP }).want(t, 401, "invalid_credentials")
		if msg := r.str("error", "message"); msg != "the security key could not be verified" {
			t.Errorf("message: got %q", msg)
		}
	}
}

var inexactOrigins = []string{"http://localhost:8080/evil", "HTTP://LOCALHOST:8080", "http://evil@localhost:8080"}

func TestWebAuthnOriginMustMatchExactly(t *testing.T) {
	e := newEnv(t)
	const email = "exact@example.com"
	_, k, _ := e.withKey(t, email, virtualwebauthn.AuthenticatorOptions{})
	for _, origin := range inexactOrigins {
		t.Run("Registration "+origin, func(t *testing.T) {
			c := e.register(strings.NewReplacer(":", "", "/", "", "@", "").Replace(strings.ToLower(origin))+"@example.com", pw)
			opts := c.do("POST", "/api/webauthn/register/start", nil).want(t, 200, "")
			rp := testRP
			rp.Origin = origin
			c.do("POST", "/api/webauthn/register/complete", newVKey(t, virtualwebauthn.AuthenticatorOptions{}).attest(rp, opts.Raw)).
				want(t, 400, "invalid_request")
		})
		t.Run("SecondFactor "+origin, func(t *testing.T) {
			p := e.pendingLogin(email)
			logged := strings.Count(e.Logs.String(), "origin is not exactly")
			k.login(p, func(a *assertion) { a.Origin = origin }).want(t, 401, "invalid_credentials")
			if strings.Count(e.Logs.String(), "origin is not exactly") != logged+1 {
				t.Errorf("not refused for its origin")
			}
			k.login(p, nil).want(t, 200, "")
		})
		t.Run("Passkey "+origin, func(t *testing.T) {
			k.login(e.client(), func(a *assertion) { a.Origin = origin }).want(t, 401, "invalid_credentials")
			k.login(e.client(), nil).want(t, 200, "")
		})
	}
}

// withTransports sets response.transports in a RegistrationResponseJSON.
func withTransports(t *testing.T, body string, transports []string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatal(err)
	}
	m["response"].(map[string]any)["transports"] = transports
	out, _ := json.Marshal(m)
	return string(out)
}

func TestWebAuthnKeepsOnlyKnownTransports(t *testing.T) {
	e := newEnv(t)
	const email = "transports@example.com"
	c := e.register(email, pw)
	opts := c.do("POST", "/api/webauthn/register/start", nil).want(t, 200, "")
	k := newVKey(t, virtualwebauthn.AuthenticatorOptions{})
	sent := []string{"usb\x00", "a,b", strings.Repeat("x", 1000), "nfc", "usb", "nfc", "USB", "hybrid", "internal", "ble", "smart-card"}
	c.do("POST", "/api/webauthn/register/complete", withTransports(t, k.attest(testRP, opts.Raw), sent)).want(t, 200, "")
	want := []string{"nfc", "usb", "hybrid", "internal", "ble", "smart-card"}

	u, err := e.DB.UserByEmail(t.Context(), email)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := e.DB.WebAuthnCredentials(t.Context(), u.ID)
	if err != nil || len(cs) != 1 || !slices.Equal(cs[0].Transports, want) {
		t.Fatalf("stored transports: got %q (%v), want %q", cs[0].Transports, err, want)
	}
	r := e.pendingLogin(email).do("POST", "/api/webauthn/authenticate/start", nil).want(t, 200, "")
	var o struct {
		AllowCredentials []struct{ Transports []string }
	}
	if err := json.Unmarshal(r.Raw, &o); err != nil || len(o.AllowCredentials) != 1 || !slices.Equal(o.AllowCredentials[0].Transports, want) {
		t.Errorf("allowCredentials: got %s, want transports %q", r.Raw, want)
	}
}

func TestWebAuthnAtMostTwentyKeys(t *testing.T) {
	e := newEnv(t)
	const email = "many@example.com"
	c, k, _ := e.withKey(t, email, virtualwebauthn.AuthenticatorOptions{})
	for range 18 {
		newVKey(t, virtualwebauthn.AuthenticatorOptions{}).register(c, "").want(t, 200, "")
	}
	// Two sessions each begin a registration at 19 keys: one completes.
	c2 := e.pendingLogin(email)
	k.login(c2, nil).want(t, 200, "")
	opts1 := c.do("POST", "/api/webauthn/register/start", nil).want(t, 200, "")
	opts2 := c2.do("POST", "/api/webauthn/register/start", nil).want(t, 200, "")
	c.do("POST", "/api/webauthn/register/complete", newVKey(t, virtualwebauthn.AuthenticatorOptions{}).attest(testRP, opts1.Raw)).want(t, 200, "")
	c2.do("POST", "/api/webauthn/register/complete", newVKey(t, virtualwebauthn.AuthenticatorOptions{}).attest(testRP, opts2.Raw)).
		want(t, 400, "invalid_request")
	c.do("POST", "/api/webauthn/register/start", nil).want(t, 400, "invalid_request")
	me := c.do("GET", "/api/me", nil).want(t, 200, "")
	if n := len(me.Body["methods"].(map[string]any)["webauthn"].([]any)); n != 20 {
		t.Errorf("got %d keys, want 20", n)
	}
}

func TestWebAuthnRegisterStartLimitedPerIP(t *testing.T) {
	e := newEnv(t, func(o *options) { o.auth.AuthRate = mustRate(t, "3/h") })
	c := e.register("startlimit@example.com", pw) // the first of 3
	for range 2 {
		c.do("POST", "/api/webauthn/register/start", nil).want(t, 200, "")
	}
	c.do("POST", "/api/webauthn/register/start", nil).want(t, 429, "rate_limited")
}
