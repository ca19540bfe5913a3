package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/twofold-auth/twofold/internal/auth"
)

// chromiumPath is Debian's Chromium; TWOFOLD_CHROMIUM overrides it.
func chromiumPath() string {
	if p := os.Getenv("TWOFOLD_CHROMIUM"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

// The tests of this package share one headless browser (the machine has two
// cores); each test gets its own browser context, so cookies never leak
// from one test's site to another's.
var shared struct {
	once   sync.Once
	ctx    context.Context
	cancel context.CancelFunc
	dir    string
	err    error
}

func startBrowser() {
	shared.dir, shared.err = os.MkdirTemp("", "twofold-chromium-")
	if shared.err != nil {
		return
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath()),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(shared.dir),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-quic", true),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	// The first Do starts the browser; it lives as long as ctx.
	if err := chromedp.Do(ctx); err != nil {
		cancelCtx()
		cancelAlloc()
		shared.err = err
		return
	}
	shared.ctx = ctx
	shared.cancel = func() { cancelCtx(); cancelAlloc() }
}

func closeBrowser() {
	if shared.cancel != nil {
		shared.cancel()
	}
	if shared.dir != "" {
		_ = os.RemoveAll(shared.dir)
	}
}

// newTab opens a tab in a fresh browser context. Without Chromium the test
// is skipped, or fails when CI=true.
func newTab(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath()); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Chromium not found at %s (set TWOFOLD_CHROMIUM): browser tests must run in CI", chromiumPath())
		}
		t.Skipf("Chromium not found at %s (set TWOFOLD_CHROMIUM): skipping browser test", chromiumPath())
	}
	shared.once.Do(startBrowser)
	if shared.err != nil {
		t.Fatalf("start Chromium: %v", shared.err)
	}
	ctx, cancel := chromedp.NewContext(shared.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open tab: %v", err)
	}
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(cancelTimeout)
	return ctx
}

// tab drives one browser tab against a site.
type tab struct {
	t   *testing.T
	ctx context.Context
	s   *site
}

func (s *site) tab(t *testing.T) *tab { return &tab{t: t, ctx: newTab(t), s: s} }

func (b *tab) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("browser: %v", err)
	}
}

func run[T any](b *tab, a chromedp.Action[T]) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, a)
	if err != nil {
		b.t.Fatalf("browser: %v", err)
	}
	return v
}

// open navigates to path on the site.
func (b *tab) open(path string) {
	b.t.Helper()
	b.do(chromedp.Navigate(b.s.URL + path))
}

// submit clicks the element sel (a submit button or a link) and waits for
// the page it leads to; it returns that page's HTTP status.
func (b *tab) submit(sel string) int64 {
	b.t.Helper()
	res, err := chromedp.RunResponse(b.ctx, chromedp.Click(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("browser: click %s: %v", sel, err)
	}
	return res.Status
}

// fill types v into the field with id.
func (b *tab) fill(id, v string) {
	b.t.Helper()
	b.do(chromedp.Clear(chromedp.ID(id)), chromedp.SendKeys(chromedp.ID(id), v))
}

// path is the current page's path and query.
func (b *tab) path() string {
	b.t.Helper()
	u, err := url.Parse(run(b, chromedp.Location()))
	if err != nil {
		b.t.Fatal(err)
	}
	return u.RequestURI()
}

func (b *tab) wantPath(want string) {
	b.t.Helper()
	if got := b.path(); got != want {
		b.t.Fatalf("browser is at %s, want %s", got, want)
	}
}

func (b *tab) text(sel string) string {
	b.t.Helper()
	return run(b, chromedp.Text(chromedp.CSS(sel)))
}

func (b *tab) eval(js string) bool {
	b.t.Helper()
	return run(b, chromedp.Evaluate[bool](js))
}

// signIn fills the login form and continues.
func (b *tab) signIn(email string) {
	b.t.Helper()
	b.open("/login")
	b.fill("email", email)
	b.fill("password", pw)
	b.submit(`form[action="/login"] button[type=submit]`)
}

// addAuthenticator runs the "add an authenticator app" flow from the
// settings page and returns the manual key and the backup codes shown.
func (b *tab) addAuthenticator(name string) (key string, codes []string) {
	b.t.Helper()
	b.fill("totp-name", name)
	b.submit(`form[action="/settings/totp"] button[type=submit]`)
	b.wantPath("/settings/totp")
	key = strings.ReplaceAll(b.text("#manual-key"), " ", "")
	if !b.eval(`document.querySelector("img.qr").naturalWidth > 0`) {
		b.t.Error("the QR code image did not load")
	}
	b.fill("code", b.s.code(key))
	b.submit(`form[action="/settings/totp/confirm"] button[type=submit]`)
	codes = run(b, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#backup-codes li")].map(li => li.textContent.trim())`))
	b.s.nextStep()
	return key, codes
}

func TestBrowserSignUpAddAuthenticatorSignOutAndSignInWithCode(t *testing.T) {
	s := newSite(t)
	b := s.tab(t)

	b.open("/")
	b.wantPath("/login")
	b.submit(`a[href="/signup"]`)
	b.fill("email", "ada@example.com")
	b.fill("password", pw)
	b.submit(`form[action="/signup"] button[type=submit]`)
	b.wantPath("/settings?done=signed_up")
	if !strings.Contains(b.text(".alert-ok"), "Welcome") {
		t.Error("no welcome notice after sign-up")
	}

	key, codes := b.addAuthenticator("Phone")
	if len(codes) != 10 {
		t.Fatalf("backup codes page shows %d codes, want 10", len(codes))
	}
	download := run(b, chromedp.Evaluate[string](`decodeURIComponent(document.querySelector("a[download]").href.split(",")[1])`))
	for _, c := range codes {
		if !strings.Contains(download, c) {
			t.Fatal("the download link does not hold every backup code")
		}
	}
	if !b.eval(`!document.querySelector("[data-copy=backup-codes]").hidden && !document.querySelector("[data-print]").hidden`) {
		t.Error("copy and print buttons stay hidden with JavaScript on")
	}
	// "I have saved them" is required before going on.
	b.do(chromedp.Click(chromedp.CSS(`form.saved button[type=submit]`)))
	if b.path() != "/settings/totp/confirm" {
		t.Fatal("continued without ticking \"I have saved these codes\"")
	}
	b.do(chromedp.Click(chromedp.ID("saved")))
	b.submit(`form.saved button[type=submit]`)
	b.wantPath("/settings?done=codes_saved&saved=on")
	if got := b.text(".badge"); got != "On" {
		t.Fatalf("two-step verification badge says %q, want On", got)
	}

	b.submit(`form[action="/logout"] button`)
	b.wantPath("/login?done=signed_out")

	b.signIn("ada@example.com")
	b.wantPath("/login/2fa")
	if got := b.focusedOnLoad(); got != "code" {
		t.Errorf("focus starts on %q, want the code box", got)
	}
	if !b.eval(`(f => f.autocomplete === "one-time-code" && f.inputMode === "numeric")(document.getElementById("code"))`) {
		t.Error("the code box is not a one-time-code field with a numeric keyboard")
	}
	b.fill("code", "000000")
	if status := b.submit(`form[action="/login/2fa"] button[type=submit]`); status != http.StatusUnauthorized {
		t.Errorf("wrong code: got status %d, want 401", status)
	}
	if got := b.text("#form-error"); !strings.Contains(got, "That code did not work") {
		t.Fatalf("wrong code shows %q", got)
	}
	if !b.eval(`document.querySelector(".messages").getAttribute("aria-live") === "assertive" && document.getElementById("code").getAttribute("aria-invalid") === "true"`) {
		t.Error("the error is not in an aria-live region, or the field is not marked invalid")
	}
	b.fill("code", s.code(key))
	b.submit(`form[action="/login/2fa"] button[type=submit]`)
	b.wantPath("/settings")
}

func TestBrowserBackupCodeSignsIn(t *testing.T) {
	s := newSite(t)
	a := s.enroll("grace@example.com")
	b := s.tab(t)
	b.signIn(a.email)
	b.wantPath("/login/2fa")
	b.submit(`a[href="/login/2fa?method=backup_code"]`)
	b.fill("code", a.codes[3])
	b.submit(`form[action="/login/2fa"] button[type=submit]`)
	b.wantPath("/settings")
	if got := b.text("#backup-h + p strong"); got != "9" {
		t.Fatalf("settings shows %s backup codes left, want 9", got)
	}
}

func TestBrowserWorksWithJavaScriptOff(t *testing.T) {
	s := newSite(t)
	b := s.tab(t)
	if _, err := chromedp.Call(b.ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatal(err)
	}
	b.open("/login")
	if !b.eval(`document.querySelector("[data-webauthn=passkey]").offsetParent === null`) {
		t.Error("the passkey button shows with JavaScript off")
	}
	b.open("/signup")
	b.fill("email", "nojs@example.com")
	b.fill("password", pw)
	b.submit(`form[action="/signup"] button[type=submit]`)
	key, codes := b.addAuthenticator("Phone")
	if len(codes) != 10 {
		t.Fatalf("backup codes page shows %d codes, want 10", len(codes))
	}
	// Buttons that need script are not shown; the download link is.
	vis := run(b, chromedp.Evaluate[[]bool](`[...document.querySelectorAll("[data-copy], [data-print], a[download]")].map(e => e.offsetParent !== null)`))
	if fmt.Sprint(vis) != "[false true false]" {
		t.Errorf("visible (copy, download, print) = %v, want [false true false]", vis)
	}
	b.do(chromedp.Click(chromedp.ID("saved")))
	b.submit(`form.saved button[type=submit]`)
	b.submit(`form[action="/logout"] button`)
	b.signIn("nojs@example.com")
	b.wantPath("/login/2fa")
	b.fill("code", s.code(key))
	b.submit(`form[action="/login/2fa"] button[type=submit]`)
	b.wantPath("/settings")
}

func TestBrowserCrossOriginFormIsRefused(t *testing.T) {
	s := newSite(t)
	s.signup("victim@example.com")
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<form method="post" action="%s/login"><input name="email" value="victim@example.com"><input name="password" value="%s"><button id="go">go</button></form>`, s.URL, pw)
	}))
	defer evil.Close()
	b := s.tab(t)
	b.do(chromedp.Navigate(evil.URL))
	if status := b.submit("#go"); status != http.StatusForbidden {
		t.Fatalf("a form posted from %s got %d, want 403", evil.URL, status)
	}
	b.open("/settings")
	b.wantPath("/login")
}

// tourPage is one page of the UI as a person sees it.
type tourPage struct {
	name string
	// dark is also captured in the dark colour scheme.
	dark bool
}

// tour walks through every page in the browser and calls see on each.
func tour(t *testing.T, s *site, b *tab, see func(tourPage)) {
	b.open("/login")
	see(tourPage{"login", true})
	b.fill("email", "ada@example.com")
	b.fill("password", "not the password")
	b.submit(`form[action="/login"] button[type=submit]`)
	see(tourPage{"login-error", false})
	b.open("/signup")
	see(tourPage{"signup", false})
	b.fill("email", "ada@example.com")
	b.fill("password", pw)
	b.submit(`form[action="/signup"] button[type=submit]`)
	see(tourPage{"settings-new", false})

	b.fill("totp-name", "Phone")
	b.submit(`form[action="/settings/totp"] button[type=submit]`)
	see(tourPage{"totp-setup", true})
	key := strings.ReplaceAll(b.text("#manual-key"), " ", "")
	b.fill("code", "000000")
	b.submit(`form[action="/settings/totp/confirm"] button[type=submit]`)
	see(tourPage{"totp-setup-error", false})
	b.fill("code", s.code(key))
	b.submit(`form[action="/settings/totp/confirm"] button[type=submit]`)
	s.nextStep()
	see(tourPage{"backup-codes", true})
	codes := run(b, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#backup-codes li")].map(li => li.textContent.trim())`))
	b.do(chromedp.Click(chromedp.ID("saved")))
	b.submit(`form.saved button[type=submit]`)

	b.submit(`form[action="/logout"] button`)
	b.signIn("ada@example.com")
	see(tourPage{"twofa", true})
	b.fill("code", "000000")
	b.submit(`form[action="/login/2fa"] button[type=submit]`)
	see(tourPage{"twofa-error", false})
	b.submit(`a[href="/login/2fa?method=backup_code"]`)
	see(tourPage{"twofa-backup-code", false})
	for _, c := range codes[:7] {
		if b.path() != "/login/2fa?method=backup_code" {
			b.signIn("ada@example.com")
			b.open("/login/2fa?method=backup_code")
		}
		b.fill("code", c)
		b.submit(`form[action="/login/2fa"] button[type=submit]`)
		b.submit(`form[action="/logout"] button`)
	}
	b.signIn("ada@example.com")
	b.fill("code", s.code(key))
	b.submit(`form[action="/login/2fa"] button[type=submit]`)
	see(tourPage{"settings", true})

	s.Clock.Advance(auth.RecentAuthWindow + time.Minute)
	b.submit(`form[action="/settings/backup-codes"] button[type=submit]`)
	see(tourPage{"reauth", false})

	tourFeatures(s, b, see)
}

// tourFeatures walks through the pages of security keys, SMS, remembered
// devices and the password with a second account.
func tourFeatures(s *site, b *tab, see func(tourPage)) {
	b.submit(`form[action="/logout"] button`)
	b.virtualKey(false)
	b.signUp("grace@example.com")
	b.fill("phone", phone)
	b.submit(`form[action="/settings/phone"] button[type=submit]`)
	see(tourPage{"phone-confirm", false})
	b.fill("code", "000000")
	b.submit(`form[action="/settings/phone/confirm"] button[type=submit]`)
	see(tourPage{"phone-confirm-error", false})
	b.fill("code", s.lastSMS(phone))
	b.submit(`form[action="/settings/phone/confirm"] button[type=submit]`)
	b.do(chromedp.Click(chromedp.ID("saved")))
	b.submit(`form.saved button[type=submit]`)

	b.fill("key-name", "YubiKey")
	b.submit(`form[action="/settings/webauthn"] button[type=submit]`)
	see(tourPage{"webauthn-add", true})
	b.click(`[data-webauthn="register"]`)
	b.waitPath("/settings?done=key_added")
	b.submit(`form[action="/logout"] button`)

	s.Clock.Advance(time.Minute) // past the SMS send cooldown
	b.signIn("grace@example.com")
	see(tourPage{"twofa-sms", false})
	b.open("/login/2fa?method=webauthn")
	see(tourPage{"twofa-key", true})
	b.open("/login/2fa?method=sms")
	b.submit(`form[action="/login/2fa/send"] button[type=submit]`)
	see(tourPage{"twofa-sms-sent", false})
	b.fill("code", s.lastSMS(phone))
	b.do(chromedp.Click(chromedp.ID("remember_device")))
	b.submit(`form[action="/login/2fa"] button[type=submit]`)
	see(tourPage{"settings-all", true})
	b.fill("current_password", "not my password")
	b.fill("new_password", "a brand new passphrase")
	b.submit(`form[action="/settings/password"] button[type=submit]`)
	see(tourPage{"settings-password-error", false})
	s.Clock.Advance(auth.RecentAuthWindow + time.Minute)
	b.submit(`form[action^="/settings/webauthn/"] button[type=submit]`)
	see(tourPage{"reauth-key", false})
}

func TestBrowserEveryPageFitsAPhoneAndLoadsNothingFromElsewhere(t *testing.T) {
	for _, size := range []struct {
		name          string
		width, height int64
		mobile        bool
	}{
		{"desktop", 1280, 800, false},
		{"phone", 360, 740, true},
	} {
		t.Run(size.name, func(t *testing.T) {
			s := newSite(t)
			b := s.tab(t)
			vp := []chromedp.EmulateViewportOption{}
			if size.mobile {
				vp = append(vp, chromedp.EmulateMobile)
			}
			b.do(chromedp.EmulateViewport(size.width, size.height, vp...))
			shots := os.Getenv("TWOFOLD_SCREENSHOTS") == "1"
			tour(t, s, b, func(p tourPage) {
				t.Helper()
				if !b.eval(`document.scrollingElement.scrollWidth <= document.scrollingElement.clientWidth`) {
					t.Errorf("%s: the page scrolls sideways at %d px", p.name, size.width)
				}
				if !b.eval(`performance.getEntriesByType("resource").every(e => e.name.startsWith(location.origin + "/"))`) {
					t.Errorf("%s: the page loaded something from another origin", p.name)
				}
				if !b.eval(`getComputedStyle(document.body).fontFamily !== "" && document.styleSheets.length > 0 && document.styleSheets[0].cssRules.length > 10`) {
					t.Errorf("%s: the stylesheet did not load", p.name)
				}
				if !shots {
					return
				}
				screenshot(t, b, p.name+"-"+size.name)
				if p.dark && size.name == "desktop" {
					setScheme(t, b, "dark")
					screenshot(t, b, p.name+"-"+size.name+"-dark")
					setScheme(t, b, "")
				}
			})
		})
	}
}

func setScheme(t *testing.T, b *tab, scheme string) {
	t.Helper()
	p := emulation.SetEmulatedMediaParams{}
	if scheme != "" {
		p.Features = []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}
	}
	if _, err := chromedp.Call(b.ctx, emulation.SetEmulatedMedia, p); err != nil {
		t.Fatal(err)
	}
}

// screenshot writes the page to docs/screenshots/NAME.png.
func screenshot(t *testing.T, b *tab, name string) {
	t.Helper()
	png := run(b, chromedp.FullScreenshot(100))
	dir := filepath.Join("..", "..", "docs", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// press sends keys to the focused element.
func (b *tab) press(keys string) {
	b.t.Helper()
	b.do(chromedp.KeyEvent(keys))
}

// focusExpr describes the focused element: its id, or its tag and text.
const focusExpr = `(e => e.id || e.tagName.toLowerCase() + ":" + e.textContent.trim())(document.activeElement)`

// focused describes the focused element (focusExpr).
func (b *tab) focused() string {
	b.t.Helper()
	return run(b, chromedp.Evaluate[string](focusExpr))
}

// focusedOnLoad is focused for a page just loaded: it waits (up to 10 s)
// for the focus to leave the body, where it sits until the page's
// autofocus has been applied, then describes it.
func (b *tab) focusedOnLoad() string {
	b.t.Helper()
	_, _ = chromedp.Run(b.ctx, chromedp.Poll[bool](`document.activeElement !== document.body`, chromedp.WithPollingTimeout(10*time.Second)))
	return b.focused()
}

func TestBrowserKeyboardOnlySignIn(t *testing.T) {
	s := newSite(t)
	a := s.enroll("keys@example.com")
	b := s.tab(t)

	b.open("/login")
	if got := b.focusedOnLoad(); got != "email" {
		t.Fatalf("focus starts on %q, want the email field", got)
	}
	b.press(a.email)
	b.press("\t")
	if got := b.focused(); got != "password" {
		t.Fatalf("Tab from email goes to %q, want the password field", got)
	}
	b.press(pw)
	b.press("\t")
	if got := b.focused(); got != "button:Continue" {
		t.Fatalf("Tab from password goes to %q, want the Continue button", got)
	}
	if !b.eval(`getComputedStyle(document.activeElement).outlineStyle === "solid" && parseFloat(getComputedStyle(document.activeElement).outlineWidth) >= 2`) {
		t.Error("the focused button has no visible focus ring")
	}
	if _, err := chromedp.RunResponse(b.ctx, chromedp.KeyEvent("\r")); err != nil {
		t.Fatal(err)
	}
	b.wantPath("/login/2fa")
	if got := b.focusedOnLoad(); got != "code" {
		t.Fatalf("focus starts on %q, want the code box", got)
	}
	b.press(s.code(a.key))
	if _, err := chromedp.RunResponse(b.ctx, chromedp.KeyEvent("\r")); err != nil {
		t.Fatal(err)
	}
	b.wantPath("/settings")

	// The first Tab on a page reaches the skip link, which becomes visible.
	b.press("\t")
	if got := b.focused(); got != "a:Skip to content" {
		t.Fatalf("first Tab goes to %q, want the skip link", got)
	}
	if !b.eval(`document.activeElement.getBoundingClientRect().top >= 0`) {
		t.Error("the focused skip link is off screen")
	}
}

func TestBrowserCopyButtonsPutTheKeyAndCodesOnTheClipboard(t *testing.T) {
	s := newSite(t)
	b := s.tab(t)
	for _, name := range []string{"clipboard-read", "clipboard-write"} {
		_, err := chromedp.CallBrowser(b.ctx, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
			Permission: &cdpbrowser.PermissionDescriptor{Name: name}, Setting: cdpbrowser.PermissionSettingGranted,
			Origin: s.URL, BrowserContextID: chromedp.FromContext(b.ctx).BrowserContextID,
		})
		if err != nil {
			t.Fatalf("grant %s: %v", name, err)
		}
	}
	clipboard := func() string {
		t.Helper()
		return run(b, chromedp.Evaluate[string](`navigator.clipboard.readText()`, chromedp.EvalAwaitPromise))
	}
	copied := func() {
		t.Helper()
		ok := run(b, chromedp.Poll[bool](`document.querySelector("[data-status]").textContent === "Copied to the clipboard."`,
			chromedp.WithPollingTimeout(5*time.Second)))
		if !ok {
			t.Fatal("no \"Copied\" message")
		}
	}

	b.open("/signup")
	b.fill("email", "copy@example.com")
	b.fill("password", pw)
	b.submit(`form[action="/signup"] button[type=submit]`)
	b.submit(`form[action="/settings/totp"] button[type=submit]`)
	key := strings.ReplaceAll(b.text("#manual-key"), " ", "")
	b.do(chromedp.Click(chromedp.CSS(`[data-copy="manual-key"]`)))
	copied()
	if clipboard() != key {
		t.Fatal("the clipboard does not hold the manual key")
	}

	b.fill("code", s.code(key))
	b.submit(`form[action="/settings/totp/confirm"] button[type=submit]`)
	codes := run(b, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#backup-codes li")].map(li => li.textContent.trim())`))
	b.do(chromedp.Click(chromedp.CSS(`[data-copy="backup-codes"]`)))
	copied()
	if clipboard() != strings.Join(codes, "\n") {
		t.Fatal("the clipboard does not hold the backup codes, one a line")
	}
}
