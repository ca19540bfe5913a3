package web_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/twofold-auth/twofold/internal/auth"
)

// The WebAuthn ceremonies run in Chromium against a CDP virtual
// authenticator, as in internal/server/webauthn_browser_test.go.

// virtualKey adds a virtual authenticator to the tab: a roaming USB
// security key, or (passkey) a platform authenticator with discoverable
// credentials and user verification. Presence is simulated.
func (b *tab) virtualKey(passkey bool) webauthn.AuthenticatorID {
	b.t.Helper()
	if _, err := chromedp.Call(b.ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		b.t.Fatalf("enable WebAuthn in DevTools: %v", err)
	}
	opts := &webauthn.VirtualAuthenticatorOptions{
		Protocol: webauthn.AuthenticatorProtocolCtap2, Ctap2version: webauthn.Ctap2versionCtap21,
		Transport: webauthn.AuthenticatorTransportUsb, AutomaticPresenceSimulation: true,
	}
	if passkey {
		opts.Transport = webauthn.AuthenticatorTransportInternal
		opts.HasResidentKey, opts.HasUserVerification, opts.IsUserVerified = true, true, true
	}
	r, err := chromedp.Call(b.ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{Options: opts})
	if err != nil {
		b.t.Fatalf("add a virtual authenticator: %v", err)
	}
	return r.AuthenticatorID
}

// waitPath waits (up to 10 s) for script to take the tab to want and for
// that page to load. A navigation during a poll ends the poll with an
// error ("context destroyed"), so it polls again.
func (b *tab) waitPath(want string) {
	b.t.Helper()
	expr := `document.readyState === "complete" && location.pathname + location.search === ` + jsString(want)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		ok, err := chromedp.Run(b.ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(time.Until(deadline))))
		if err == nil && ok {
			return
		}
	}
	msg := run(b, chromedp.Evaluate[string](`(document.querySelector("#form-error") || {}).textContent || ""`))
	b.t.Fatalf("browser is at %s, want %s (error shown: %q)", b.path(), want, strings.TrimSpace(msg))
}

func jsString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// click presses a button that script acts on.
func (b *tab) click(sel string) {
	b.t.Helper()
	b.do(chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.Click(chromedp.CSS(sel)))
}

// signUp creates an account through the sign-up page.
func (b *tab) signUp(email string) {
	b.t.Helper()
	b.open("/signup")
	b.fill("email", email)
	b.fill("password", pw)
	b.submit(`form[action="/signup"] button[type=submit]`)
	b.wantPath("/settings?done=signed_up")
}

// addKey adds a security key or passkey named name from the settings page
// and comes back to settings; first says it is the first second factor
// (the backup codes come first then).
func (b *tab) addKey(name string, first bool) {
	b.t.Helper()
	b.fill("key-name", name)
	b.submit(`form[action="/settings/webauthn"] button[type=submit]`)
	b.wantPath("/settings/webauthn")
	if b.eval(`document.querySelector("[data-webauthn-unsupported]").offsetParent !== null`) {
		b.t.Fatal("the page says WebAuthn is not supported in Chromium")
	}
	b.click(`[data-webauthn="register"]`)
	if first {
		b.waitPath("/settings/webauthn/complete")
		if !strings.Contains(b.text("h1"), "Save your backup codes") {
			b.t.Fatalf("after the first key: %q, want the backup codes", b.text("h1"))
		}
		b.do(chromedp.Click(chromedp.ID("saved")))
		b.submit(`form.saved button[type=submit]`)
		return
	}
	b.waitPath("/settings?done=key_added")
}

func TestBrowserSecurityKeyAddedInSettingsThenUsedAtThePromptAndRemembered(t *testing.T) {
	s := newSite(t)
	b := s.tab(t)
	b.signUp("key@example.com")
	b.virtualKey(false)
	b.addKey("YubiKey", true)
	if got := b.text(".item-name"); got != "YubiKey" {
		t.Fatalf("settings list %q, want the key YubiKey", got)
	}

	b.submit(`form[action="/logout"] button`)
	b.signIn("key@example.com")
	b.wantPath("/login/2fa")
	if b.eval(`!!document.getElementById("code")`) {
		t.Error("a key-only account is asked for a code")
	}
	b.do(chromedp.Click(chromedp.ID("remember_device")))
	b.click(`[data-webauthn="second-factor"]`)
	b.waitPath("/settings")
	if !strings.Contains(b.text("#devices-h + p + ul"), "Chrome on Linux") {
		t.Error("the remembered browser is not listed under Remembered devices")
	}

	// Remembered: the password alone signs in next time.
	b.submit(`form[action="/logout"] button`)
	b.signIn("key@example.com")
	b.wantPath("/settings")
}

func TestBrowserWrongKeyAtThePromptShowsAnError(t *testing.T) {
	s := newSite(t)
	a := s.tab(t)
	a.signUp("owner@example.com")
	a.virtualKey(false)
	a.addKey("Key", true)

	// Another browser with another key: the server refuses its assertion.
	// (The key is not in allowCredentials, so Chromium itself refuses.)
	b := s.tab(t)
	b.open("/login")
	b.virtualKey(false)
	b.signIn("owner@example.com")
	b.wantPath("/login/2fa")
	b.click(`[data-webauthn="second-factor"]`)
	ok, err := chromedp.Run(b.ctx, chromedp.Poll[bool](`!!document.querySelector("#form-error")`, chromedp.WithPollingTimeout(30*time.Second)))
	if err != nil || !ok {
		t.Fatal("no error shown for a key that is not the account's")
	}
	if !b.eval(`document.activeElement.id === "form-error" && document.querySelector(".messages").contains(document.activeElement)`) {
		t.Error("the error is not focused inside the aria-live region")
	}
	b.wantPath("/login/2fa")
}

func TestBrowserPasskeySignInFromTheLoginPage(t *testing.T) {
	s := newSite(t)
	b := s.tab(t)
	b.signUp("passkey@example.com")
	b.virtualKey(true)
	b.addKey("Laptop", true)
	b.submit(`form[action="/logout"] button`)

	b.open("/login")
	b.click(`[data-webauthn="passkey"]`)
	b.waitPath("/settings")
	if got := b.text(".who-email"); got != "passkey@example.com" {
		t.Fatalf("signed in as %q", got)
	}

	// A passkey sign-in is recent authentication: the key can be removed
	// at once, which turns two-step verification off (its only factor).
	b.submit(`form[action^="/settings/webauthn/"] button[type=submit]`)
	b.wantPath("/settings?done=key_removed")
	if got := b.text(".badge"); got != "Off" {
		t.Fatalf("two-step verification badge says %q after removing the only key, want Off", got)
	}
}

func TestBrowserPasskeyButtonIsHiddenWithoutWebAuthn(t *testing.T) {
	s := newSite(t)
	b := s.tab(t)
	b.do(chromedp.Navigate(s.URL + "/login"))
	// Chromium has WebAuthn: the button shows.
	if !b.eval(`document.querySelector("[data-webauthn=passkey]").offsetParent !== null`) {
		t.Fatal("the passkey button is hidden in Chromium")
	}
	// Without PublicKeyCredential (an older browser), nothing shows.
	if _, err := chromedp.Call(b.ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `delete window.PublicKeyCredential;`,
	}); err != nil {
		t.Fatal(err)
	}
	b.open("/login")
	if !b.eval(`document.querySelector("[data-webauthn=passkey]").offsetParent === null`) {
		t.Fatal("the passkey button shows in a browser without WebAuthn")
	}
}

func TestBrowserRememberThisDeviceWithACode(t *testing.T) {
	s := newSite(t)
	a := s.enroll("code-remember@example.com")
	b := s.tab(t)
	b.signIn(a.email)
	b.wantPath("/login/2fa")
	b.fill("code", s.code(a.key))
	b.do(chromedp.Click(chromedp.ID("remember_device")))
	b.submit(`form[action="/login/2fa"] button[type=submit]`)
	b.wantPath("/settings")
	b.submit(`form[action="/logout"] button`)
	b.signIn(a.email)
	b.wantPath("/settings")
}

func TestBrowserPasskeyConfirmsAChangeWhenReauthenticationIsDue(t *testing.T) {
	s := newSite(t)
	b := s.tab(t)
	b.signUp("confirm@example.com")
	b.virtualKey(true)
	b.addKey("Laptop", true)

	s.Clock.Advance(auth.RecentAuthWindow + time.Minute)
	b.submit(`form[action^="/settings/webauthn/"] button[type=submit]`)
	if !strings.Contains(b.text("h1"), "Confirm it is you") {
		t.Fatalf("removing a key long after sign-in shows %q, want the re-authentication prompt", b.text("h1"))
	}
	b.click(`[data-webauthn="reauth"]`)
	b.waitPath("/settings?done=key_removed")
	if n := run(b, chromedp.Evaluate[int](`document.querySelectorAll('form[action^="/settings/webauthn/"]').length`)); n != 0 {
		t.Fatalf("%d keys listed after removing the only one, want 0", n)
	}
}
