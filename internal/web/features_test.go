package web_test

import (
	"context"
	"errors"
	"html"
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twofold-auth/twofold/internal/auth"
	"github.com/twofold-auth/twofold/internal/notify"
)

const phone = "+14155550123"

// maskedPhone is how the pages show phone.
const maskedPhone = "+*********23"

var (
	phoneIDRE  = regexp.MustCompile(`action="/settings/phone/([^/"]+)/remove"`)
	deviceIDRE = regexp.MustCompile(`action="/settings/devices/([^/"]+)/revoke"`)
)

// enrollPhone signs email up and adds phone as its only second factor
// through the settings forms; it returns the backup codes shown.
func (s *site) enrollPhone(email string) (*browser, []string) {
	s.t.Helper()
	b := s.signup(email)
	r := b.post("/settings/phone", "phone", phone, "name", "Mobile")
	r.wantPage(s.t, 200, "Confirm your phone number")
	if body := html.UnescapeString(r.Body); !strings.Contains(body, maskedPhone) || strings.Contains(body, phone) {
		s.t.Fatal("the confirm page does not show the phone masked")
	}
	if !strings.Contains(r.Body, "NIST SP 800-63B") {
		s.t.Error("the confirm page lacks the restricted-authenticator warning")
	}
	done := b.post("/settings/phone/confirm", "code", s.lastSMS(phone))
	done.wantPage(s.t, 200, "Save your backup codes")
	var codes []string
	for _, m := range codesRE.FindAllStringSubmatch(done.Body, -1) {
		codes = append(codes, m[1])
	}
	if len(codes) != 10 {
		s.t.Fatalf("backup codes page shows %d codes, want 10", len(codes))
	}
	return b, codes
}

func TestPhoneAddedInSettingsThenSignInWithTextedCode(t *testing.T) {
	s := newSite(t)
	b, _ := s.enrollPhone("sms@example.com")
	set := b.get("/settings")
	set.wantPage(t, 200, "Text message (SMS)")
	if !strings.Contains(html.UnescapeString(set.Body), maskedPhone) || !strings.Contains(set.Body, "restricted authenticator") {
		t.Fatal("settings do not list the masked phone with the restricted-authenticator warning")
	}

	s.Clock.Advance(time.Minute) // past the per-account send cooldown
	p := s.pendingLogin("sms@example.com")
	prompt := p.get("/login/2fa")
	prompt.wantPage(t, 200, `action="/login/2fa/send"`)
	if strings.Contains(prompt.Body, `name="code"`) {
		t.Error("the prompt asks for a code before one was sent")
	}
	p.post("/login/2fa/send", "method", "sms").wantRedirect(t, "/login/2fa?method=sms&done=sent")
	sent := p.get("/login/2fa?method=sms&done=sent")
	sent.wantPage(t, 200, `name="code"`)
	if !strings.Contains(html.UnescapeString(sent.Body), "We sent a 6-digit code to "+maskedPhone) {
		t.Error("no notice saying where the code went")
	}
	code := s.lastSMS(phone)

	// At once again: the per-account cooldown answers with a wait.
	again := p.post("/login/2fa/send", "method", "sms")
	again.wantPage(t, http.StatusTooManyRequests, "Too many attempts")
	if !strings.Contains(again.alert(), "Wait") {
		t.Errorf("rate limit message %q does not say to wait", again.alert())
	}

	wrong := p.post("/login/2fa", "method", "sms", "code", "000000")
	wrong.wantPage(t, 401, "Code from the text message")
	if !strings.Contains(wrong.alert(), "newest text message") {
		t.Errorf("wrong SMS code shows %q", wrong.alert())
	}
	p.post("/login/2fa", "method", "sms", "code", code).wantRedirect(t, "/settings")
}

func TestPhoneRemovedAfterReauthenticationWithBackupCode(t *testing.T) {
	s := newSite(t)
	b, codes := s.enrollPhone("rm@example.com")
	id := submatch(phoneIDRE, b.get("/settings").Body)
	if id == "" {
		t.Fatal("no remove button for the phone")
	}
	s.Clock.Advance(auth.RecentAuthWindow + time.Minute)
	r := b.post("/settings/phone/" + id + "/remove")
	r.wantPage(t, 403, "remove a phone number")
	// SMS cannot re-authenticate (codes go to pending logins only): the
	// prompt asks for a backup code.
	if !strings.Contains(r.Body, `name="method" value="backup_code"`) {
		t.Fatal("the prompt does not ask for a backup code")
	}
	b.post("/settings/reauth", "action", "phone-remove", "id", id, "password", pw, "method", "backup_code", "code", codes[0]).
		wantRedirect(t, "/settings?done=phone_removed")
	if strings.Contains(html.UnescapeString(b.get("/settings").Body), maskedPhone) {
		t.Fatal("the phone is still listed")
	}
}

func TestPhoneSetupCarriesTheNumberThroughReauthentication(t *testing.T) {
	s := newSite(t)
	a := s.enroll("later@example.com")
	s.Clock.Advance(auth.RecentAuthWindow + time.Minute)
	r := a.b.post("/settings/phone", "phone", phone)
	r.wantPage(t, 403, "add a phone number")
	a.b.post("/settings/reauth", "action", "phone-setup", "phone", phone, "password", pw, "method", "totp", "code", s.code(a.key)).
		wantPage(t, 200, "Confirm your phone number")
	a.b.post("/settings/phone/confirm", "code", "000000").wantPage(t, 400, "That code did not work")
	a.b.post("/settings/phone/confirm", "code", s.lastSMS(phone)).wantRedirect(t, "/settings?done=phone_added")
	// Confirmed: the same code again finds no setup in progress.
	again := a.b.post("/settings/phone/confirm", "code", s.lastSMS(phone))
	if again.Status != 400 || !strings.Contains(again.alert(), "No phone number is being set up") {
		t.Fatalf("got %d %q, want 400 saying no phone is being set up", again.Status, again.alert())
	}
}

func TestBadPhoneNumberIsExplained(t *testing.T) {
	s := newSite(t)
	r := s.signup("bad@example.com").post("/settings/phone", "phone", "12")
	if r.Status != 400 || r.alert() == "" {
		t.Fatalf("got %d with message %q, want 400 with a message", r.Status, r.alert())
	}
}

func TestRememberThisDeviceSkipsThePromptUntilForgotten(t *testing.T) {
	s := newSite(t)
	a := s.enroll("remember@example.com")
	b := s.pendingLogin(a.email)
	b.get("/login/2fa").wantPage(t, 200, `name="remember_device"`)
	r := b.post("/login/2fa", "method", "totp", "code", s.code(a.key), "remember_device", "true")
	r.wantRedirect(t, "/settings")
	if !strings.Contains(strings.Join(r.Header.Values("Set-Cookie"), "\n"), "twofold_device=") {
		t.Fatal("no device cookie after ticking remember this device")
	}
	set := b.get("/settings")
	set.wantPage(t, 200, "Remembered devices")
	id := submatch(deviceIDRE, set.Body)
	if id == "" {
		t.Fatal("the remembered device is not listed with a Forget button")
	}
	b.post("/logout").wantRedirect(t, "/login?done=signed_out")

	// Password alone now: the device cookie vouches for the second factor.
	b.post("/login", "email", a.email, "password", pw).wantRedirect(t, "/settings")
	if !strings.Contains(b.get("/settings").Body, "Signed in on a remembered device") {
		t.Error("recent activity does not show the remembered-device sign-in")
	}

	b.post("/settings/devices/"+id+"/revoke").wantRedirect(t, "/settings?done=device_revoked")
	b.post("/logout")
	b.post("/login", "email", a.email, "password", pw).wantRedirect(t, "/login/2fa")
}

func TestWithoutTheBoxTheDeviceIsNotRemembered(t *testing.T) {
	s := newSite(t)
	a := s.enroll("forget@example.com")
	b := s.pendingLogin(a.email)
	r := b.post("/login/2fa", "method", "totp", "code", s.code(a.key))
	r.wantRedirect(t, "/settings")
	if strings.Contains(strings.Join(r.Header.Values("Set-Cookie"), "\n"), "twofold_device=") {
		t.Fatal("a device cookie was set without the box ticked")
	}
	b.post("/logout")
	b.post("/login", "email", a.email, "password", pw).wantRedirect(t, "/login/2fa")
}

func TestPasswordChange(t *testing.T) {
	s := newSite(t)
	a := s.enroll("pw@example.com")
	const next = "a brand new passphrase"
	wrong := a.b.post("/settings/password", "current_password", "not it", "new_password", next)
	wrong.wantPage(t, 401, "Change password")
	if !strings.Contains(wrong.alert(), "current password is not right") {
		t.Fatalf("wrong current password shows %q", wrong.alert())
	}
	a.b.post("/settings/password", "current_password", pw, "new_password", "short").wantPage(t, 400, "The new password must be")

	other := s.pendingLogin(a.email) // another session, ended by the change
	a.b.post("/settings/password", "current_password", pw, "new_password", next).wantRedirect(t, "/settings?done=password_changed")
	a.b.get("/settings?done=password_changed").wantPage(t, 200, "Password changed")
	other.get("/login/2fa").wantRedirect(t, "/login")

	s.browser().post("/login", "email", a.email, "password", pw).wantPage(t, 401, "do not match")
	s.browser().post("/login", "email", a.email, "password", next).wantRedirect(t, "/login/2fa")
}

func TestPasswordChangeAfterReauthenticationAsksForThePasswordsAgain(t *testing.T) {
	s := newSite(t)
	a := s.enroll("pw2@example.com")
	const next = "another brand new passphrase"
	s.Clock.Advance(auth.RecentAuthWindow + time.Minute)
	r := a.b.post("/settings/password", "current_password", pw, "new_password", next)
	r.wantPage(t, 403, "change your password")
	if strings.Contains(r.Body, next) || strings.Contains(r.Body, `name="new_password"`) {
		t.Fatal("the re-authentication prompt carries the new password")
	}
	a.b.post("/settings/reauth", "action", "password", "password", pw, "method", "totp", "code", s.code(a.key)).
		wantRedirect(t, "/settings?done=confirmed#password-h")
	a.b.post("/settings/password", "current_password", pw, "new_password", next).wantRedirect(t, "/settings?done=password_changed")
}

func TestFeaturePagesHaveNoInlineScriptAndLabelEveryField(t *testing.T) {
	s := newSite(t)
	pages := map[string]result{}
	b := s.signup("pages@example.com")
	pages["phone confirm"] = b.post("/settings/phone", "phone", phone)
	pages["phone confirm, wrong code"] = b.post("/settings/phone/confirm", "code", "000000")
	b.post("/settings/phone/confirm", "code", s.lastSMS(phone))
	pages["add a key"] = b.post("/settings/webauthn", "name", "YubiKey")
	p := s.pendingLogin("pages@example.com")
	pages["second factor, sms"] = p.get("/login/2fa")
	s.Clock.Advance(time.Minute)
	p.post("/login/2fa/send", "method", "sms")
	pages["second factor, sms sent"] = p.get("/login/2fa?method=sms&done=sent")
	p.post("/login/2fa", "method", "sms", "code", s.lastSMS(phone), "remember_device", "true")
	pages["settings, phone and device"] = p.get("/settings")
	pages["password, wrong"] = p.post("/settings/password", "current_password", "x", "new_password", "a new passphrase")
	for name, r := range pages {
		t.Run(name, func(t *testing.T) {
			if r.Status == 0 || r.Status >= 500 {
				t.Fatalf("got status %d", r.Status)
			}
			checkHTML(t, r.Body)
		})
	}
	if k := pages["add a key"]; !strings.Contains(k.Body, `data-options="{`) || !strings.Contains(k.Body, `excludeCredentials`) {
		t.Error("the add-a-key page does not carry the creation options")
	}
}

// breakableSMS sends SMS through next until broken is set, then fails like
// a provider that is down.
type breakableSMS struct {
	next   notify.Sender
	broken atomic.Bool
}

func (b *breakableSMS) Send(ctx context.Context, m notify.Message) error {
	if b.broken.Load() {
		return errors.New("provider down")
	}
	return b.next.Send(ctx, m)
}

func TestTextThatCannotBeSentIsExplained(t *testing.T) {
	sms := &breakableSMS{}
	s := newSite(t, func(o *auth.Options) {
		sms.next = o.Notifier
		o.Notifier = notify.Channels{Email: o.Notifier, SMS: sms}
	})
	s.enrollPhone("down@example.com")
	s.Clock.Advance(time.Minute)
	sms.broken.Store(true)
	p := s.pendingLogin("down@example.com")
	r := p.post("/login/2fa/send", "method", "sms")
	if r.Status != http.StatusBadGateway || !strings.Contains(r.alert(), "could not send the text message") {
		t.Fatalf("got %d %q, want 502 with the delivery message", r.Status, r.alert())
	}
	if !strings.Contains(r.Body, `action="/login/2fa/send"`) {
		t.Error("no way to try sending again")
	}
}

func TestKeySetupCarriesItsNameThroughReauthentication(t *testing.T) {
	s := newSite(t)
	a := s.enroll("keyname@example.com")
	s.Clock.Advance(auth.RecentAuthWindow + time.Minute)
	r := a.b.post("/settings/webauthn", "name", "Blue key")
	r.wantPage(t, 403, "add a security key or passkey")
	if !strings.Contains(r.Body, `name="name" value="Blue key"`) {
		t.Fatal("the prompt does not carry the key's name")
	}
	done := a.b.post("/settings/reauth", "action", "webauthn-add", "name", "Blue key", "password", pw, "method", "totp", "code", s.code(a.key))
	done.wantPage(t, 200, `data-options="{`)
	if !strings.Contains(done.Body, "<strong class=\"break\">Blue key</strong>") {
		t.Error("the add-a-key page does not name the key")
	}
	// A made-up credential is refused with the service's message.
	bad := a.b.post("/settings/webauthn/complete", "credential", `{"id":"x"}`)
	if bad.Status != 400 || bad.alert() == "" {
		t.Fatalf("got %d %q, want 400 with a message", bad.Status, bad.alert())
	}
}

func TestResumeMakesNoChangeWithoutRecentAuthentication(t *testing.T) {
	s := newSite(t)
	a := s.enroll("resume@example.com")
	a.b.post("/settings/resume", "action", "nonsense").wantPage(t, 400, "Unknown change")
	s.Clock.Advance(auth.RecentAuthWindow + time.Minute)
	r := a.b.post("/settings/resume", "action", "backup-codes")
	r.wantPage(t, 403, "Confirm it is you")
	if strings.Contains(r.Body, `data-webauthn="reauth"`) {
		t.Error("the prompt offers a passkey to an account without one")
	}
}

func TestLockedAccountIsToldWhenAtTheTextMessagePrompt(t *testing.T) {
	s := newSite(t)
	s.enrollPhone("smslock@example.com")
	s.Clock.Advance(time.Minute)
	p := s.pendingLogin("smslock@example.com")
	p.post("/login/2fa/send", "method", "sms").wantRedirect(t, "/login/2fa?method=sms&done=sent")
	for range 5 {
		p.post("/login/2fa", "method", "sms", "code", "000000")
	}
	s.Clock.Advance(time.Minute)
	r := p.post("/login/2fa/send", "method", "sms")
	r.wantPage(t, 429, "Too many wrong codes")
	until := s.Clock.Now().Add(14 * time.Minute).UTC().Format("15:04 UTC")
	if !strings.Contains(r.alert(), until) {
		t.Fatalf("lockout message %q, want the end time %s", r.alert(), until)
	}
}

func TestNoRememberBoxWhenTrustedDevicesAreOff(t *testing.T) {
	s := newSiteWithDeviceTTL(t, 0)
	a := s.enroll("off@example.com")
	b := s.pendingLogin(a.email)
	if strings.Contains(b.get("/login/2fa").Body, "remember_device") {
		t.Fatal("the prompt offers to remember the device with the feature off")
	}
	r := b.post("/login/2fa", "method", "totp", "code", s.code(a.key), "remember_device", "true")
	r.wantRedirect(t, "/settings")
	if strings.Contains(strings.Join(r.Header.Values("Set-Cookie"), "\n"), "twofold_device=") {
		t.Fatal("a device cookie was set with the feature off")
	}
	if strings.Contains(b.get("/settings").Body, "Remembered devices") {
		t.Error("settings show remembered devices with the feature off")
	}
}
