package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/twofold-auth/twofold/internal/auth"
)

// The browser tests drive Debian's Chromium (headless, over the DevTools
// protocol) with a virtual CTAP2 authenticator against a real twofold
// server at http://localhost:PORT, a secure context for WebAuthn.

// testPage is a blank page on the server's origin that the tests run their
// JavaScript in (fetch and navigator.credentials, as a web app would).
const testPage = "/webauthn-test"

func servePage(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == testPage {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, "<!doctype html><title>twofold WebAuthn test</title><p>test page</p>")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// chromium finds the browser, skipping the test where it is absent (and
// failing instead under CI=true).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed (apt-get install chromium); CI=true, so the browser tests must run")
	}
	t.Skip("chromium is not installed (apt-get install chromium): skipping the WebAuthn browser tests")
	return ""
}

// startBrowser starts one headless Chromium for the whole test, with a fresh
// profile; each tab gets its own browser context (cookies) from newTab.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Headless, chromedp.NoSandbox, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelBrowser(); cancelAlloc() })
	// The first run starts the browser, which lives as long as the context
	// it runs on: bctx, not one with a timeout.
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return bctx
}

// tab is one browser tab with its own cookies and a virtual authenticator.
type tab struct {
	t    *testing.T
	ctx  context.Context
	auth webauthn.AuthenticatorID
}

// call runs a DevTools protocol command in the tab.
func call[P, R any](tb *tab, cmd cdp.Command[P, R], p P) R {
	tb.t.Helper()
	r, err := chromedp.Run(tb.ctx, func(ctx context.Context, t *chromedp.Target) (R, error) { return cdp.Call(ctx, t, cmd, p) })
	if err != nil {
		tb.t.Fatalf("%s: %v", cmd.Method, err)
	}
	return r
}

// newTab opens a tab in a new browser context at url with a virtual
// platform authenticator: CTAP2, internal transport, resident keys and user
// verification that succeeds.
func newTab(t *testing.T, browser context.Context, url string) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancelTimeout)
	tb := &tab{t: t, ctx: ctx}
	if err := chromedp.Do(ctx, chromedp.Navigate(url+testPage)); err != nil {
		t.Fatalf("navigate: %v", err)
	}
	call(tb, webauthn.Enable, webauthn.EnableParams{})
	tb.auth = call(tb, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{Options: &webauthn.VirtualAuthenticatorOptions{
		Protocol: webauthn.AuthenticatorProtocolCtap2, Ctap2version: webauthn.Ctap2versionCtap21,
		Transport: webauthn.AuthenticatorTransportInternal, HasResidentKey: true, HasUserVerification: true,
		IsUserVerified: true, AutomaticPresenceSimulation: true,
	}}).AuthenticatorID
	return tb
}

func (tb *tab) navigate(url string) {
	tb.t.Helper()
	if err := chromedp.Do(tb.ctx, chromedp.Navigate(url+testPage)); err != nil {
		tb.t.Fatalf("navigate: %v", err)
	}
}

// result is what the page's JavaScript hands back: an HTTP status and body,
// or a JavaScript error.
type result struct {
	Status int    `json:"status"`
	Body   string `json:"body"`
	Error  string `json:"error"`
}

func (r result) want(t *testing.T, status int, code string) result {
	t.Helper()
	if r.Error != "" {
		t.Fatalf("browser: %s", r.Error)
	}
	if r.Status != status || (code != "" && !strings.Contains(r.Body, `"code":"`+code+`"`)) {
		t.Fatalf("got %d %s, want %d %s", r.Status, r.Body, status, code)
	}
	return r
}

// jsLib is what each evaluation starts with: fetch helpers and the two
// WebAuthn ceremonies written as a web app would write them.
const jsLib = `
const api = async (path, body) => {
  const r = await fetch(path, {method: 'POST', headers: {'Content-Type': 'application/json'},
    body: body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body))});
  return {status: r.status, body: await r.text()};
};
const get = async (path) => { const r = await fetch(path); return {status: r.status, body: await r.text()}; };
const guard = (f) => f().catch(e => ({error: String(e && e.name) + ': ' + String(e && e.message)}));
const assertFor = async (optionsJSON) => {
  const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(JSON.parse(optionsJSON));
  const cred = await navigator.credentials.get({publicKey});
  return JSON.stringify(cred.toJSON());
};
`

// run evaluates a JavaScript expression (with jsLib in scope) that gives a promise.
func run[T any](tb *tab, js string) T {
	tb.t.Helper()
	v, err := chromedp.Run(tb.ctx, chromedp.Evaluate[T]("(() => {"+jsLib+"return "+js+";\n})()", chromedp.EvalAwaitPromise))
	if err != nil {
		tb.t.Fatalf("evaluate: %v", err)
	}
	return v
}

func (tb *tab) post(path string, body any) result {
	tb.t.Helper()
	b, _ := json.Marshal(body)
	return run[result](tb, fmt.Sprintf(`guard(() => api(%q, %s))`, path, b))
}

func (tb *tab) signUp(email string) {
	tb.t.Helper()
	tb.post("/api/register", map[string]string{"email": email, "password": pw}).want(tb.t, 201, "")
}

func (tb *tab) login(email, wantStatus string) {
	tb.t.Helper()
	r := tb.post("/api/login", map[string]string{"email": email, "password": pw}).want(tb.t, 200, "")
	if !strings.Contains(r.Body, `"status":"`+wantStatus+`"`) {
		tb.t.Fatalf("login: got %s, want status %s", r.Body, wantStatus)
	}
}

func (tb *tab) logout() {
	tb.t.Helper()
	tb.post("/api/logout", nil).want(tb.t, 204, "")
}

// registerKey runs navigator.credentials.create with the server's options.
func (tb *tab) registerKey(name string) (complete result, responseJSON string) {
	tb.t.Helper()
	type withJSON struct {
		result
		JSON string `json:"json"`
	}
	out := run[withJSON](tb, fmt.Sprintf(`guard(async () => {
  const s = await api('/api/webauthn/register/start', {name: %q});
  if (s.status !== 200) return s;
  const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(JSON.parse(s.body));
  const cred = await navigator.credentials.create({publicKey});
  const json = JSON.stringify(cred.toJSON());
  return {...await api('/api/webauthn/register/complete', json), json};
})`, name))
	if out.Error != "" {
		tb.t.Fatalf("register a key: %s", out.Error)
	}
	return out.result, out.JSON
}

// startAuth calls authenticate/start and returns the options JSON.
func (tb *tab) startAuth() string {
	tb.t.Helper()
	return run[result](tb, `guard(() => api('/api/webauthn/authenticate/start'))`).want(tb.t, 200, "").Body
}

// assert runs navigator.credentials.get for options and returns toJSON().
func (tb *tab) assert(options string) string {
	tb.t.Helper()
	out := run[struct {
		JSON  string `json:"json"`
		Error string `json:"error"`
	}](tb, fmt.Sprintf(`guard(async () => ({json: await assertFor(%q)}))`, options))
	if out.Error != "" {
		tb.t.Fatalf("navigator.credentials.get: %s", out.Error)
	}
	return out.JSON
}

func (tb *tab) complete(assertion string) result {
	tb.t.Helper()
	return run[result](tb, fmt.Sprintf(`guard(() => api('/api/webauthn/authenticate/complete', %q))`, assertion))
}

// authenticate is a whole WebAuthn login step: start, get, complete.
func (tb *tab) authenticate() result {
	tb.t.Helper()
	return tb.complete(tb.assert(tb.startAuth()))
}

func (tb *tab) me() result {
	tb.t.Helper()
	return run[result](tb, `guard(() => get('/api/me'))`)
}

func (tb *tab) credentials() []*webauthn.Credential {
	tb.t.Helper()
	return call(tb, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: tb.auth}).Credentials
}

func eventCount(t *testing.T, e *env, typ string) int {
	t.Helper()
	evs, err := e.Auth.ListEvents(t.Context(), auth.EventFilter{Type: typ, Limit: 200})
	if err != nil {
		t.Fatalf("events: %v", err)
	}
	return len(evs)
}

func TestWebAuthnInBrowser(t *testing.T) {
	browser := startBrowser(t)
	e := newEnv(t, func(o *options) { o.localhost, o.wrap = true, servePage })

	t.Run("RegisterThenSecondFactorThenPasskeyLogin", func(t *testing.T) {
		tb := newTab(t, browser, e.PublicURL)
		tb.signUp("browser@example.com")
		r, _ := tb.registerKey("Laptop")
		r.want(t, 200, "")
		var reg struct {
			Success     bool
			Method      struct{ ID, Name string }
			BackupCodes []string `json:"backup_codes"`
		}
		if err := json.Unmarshal([]byte(r.Body), &reg); err != nil || !reg.Success || reg.Method.Name != "Laptop" || len(reg.BackupCodes) != 10 {
			t.Fatalf("register/complete: got %s", r.Body)
		}
		if creds := tb.credentials(); len(creds) != 1 || !creds[0].IsResidentCredential {
			t.Fatalf("authenticator holds %d credentials, want 1 resident (discoverable) credential", len(creds))
		}

		tb.logout()
		tb.login("browser@example.com", "2fa_required")
		tb.authenticate().want(t, 200, "")
		if me := tb.me().want(t, 200, ""); !strings.Contains(me.Body, `"name":"Laptop"`) || !strings.Contains(me.Body, `"last_used_at":"`) {
			t.Errorf("/api/me after the login: %s", me.Body)
		}

		tb.logout()
		tb.me().want(t, 401, "unauthenticated")
		if opts := tb.startAuth(); !strings.Contains(opts, `"allowCredentials":[]`) {
			t.Errorf("passkey login options: got %s, want allowCredentials empty", opts)
		}
		r = tb.authenticate().want(t, 200, "")
		if !strings.Contains(r.Body, `"email":"browser@example.com"`) {
			t.Errorf("passkey login: got %s", r.Body)
		}
		tb.me().want(t, 200, "")
	})

	t.Run("ChallengeUsedTwiceRefused", func(t *testing.T) {
		tb := newTab(t, browser, e.PublicURL)
		tb.signUp("twice@example.com")
		r, body := tb.registerKey("Key")
		r.want(t, 200, "")
		again := run[result](tb, fmt.Sprintf(`guard(() => api('/api/webauthn/register/complete', %q))`, body)).want(t, 400, "invalid_request")
		if !strings.Contains(again.Body, "could not be verified") {
			t.Errorf("second registration with one challenge: got %s, want the challenge refused", again.Body)
		}

		tb.logout()
		tb.login("twice@example.com", "2fa_required")
		a := tb.assert(tb.startAuth())
		both := run[[]result](tb, fmt.Sprintf(`Promise.all([api('/api/webauthn/authenticate/complete', %q), api('/api/webauthn/authenticate/complete', %q)])`, a, a))
		if len(both) != 2 || both[0].Status+both[1].Status != 200+401 {
			t.Errorf("the same assertion sent twice at once: got %+v, want one 200 and one 401", both)
		}
	})

	t.Run("ReplayedAssertionRefused", func(t *testing.T) {
		tb := newTab(t, browser, e.PublicURL)
		tb.signUp("replay@example.com")
		r, _ := tb.registerKey("Key")
		r.want(t, 200, "")
		tb.logout()
		tb.login("replay@example.com", "2fa_required")
		old := tb.assert(tb.startAuth())
		tb.complete(old).want(t, 200, "")

		tb.logout()
		tb.login("replay@example.com", "2fa_required")
		tb.startAuth() // a fresh ceremony is open; the old answer is not for it
		tb.complete(old).want(t, 401, "invalid_credentials")
		tb.authenticate().want(t, 200, "")
	})

	t.Run("CredentialReaddedWithLowerSignCountRefused", func(t *testing.T) {
		tb := newTab(t, browser, e.PublicURL)
		tb.signUp("clone@example.com")
		r, _ := tb.registerKey("Key")
		r.want(t, 200, "")
		for range 3 {
			tb.logout()
			tb.login("clone@example.com", "2fa_required")
			tb.authenticate().want(t, 200, "")
		}
		creds := tb.credentials()
		if len(creds) != 1 || creds[0].SignCount < 3 {
			t.Fatalf("got %d credentials, sign count %v; want 1 with a count of at least 3", len(creds), creds[0].SignCount)
		}
		c := creds[0]
		call(tb, webauthn.RemoveCredential, webauthn.RemoveCredentialParams{AuthenticatorID: tb.auth, CredentialID: c.CredentialID})
		// The same key pair again, with a counter behind what the server saw:
		// a clone. (A raw call: this authenticator refuses the CMTG fields
		// that cdproto's Credential always sends.)
		_, err := chromedp.Run(tb.ctx, func(ctx context.Context, t *chromedp.Target) (struct{}, error) {
			return struct{}{}, t.Call(ctx, webauthn.CommandAddCredential, map[string]any{
				"authenticatorId": tb.auth,
				"credential": map[string]any{
					"credentialId": c.CredentialID, "isResidentCredential": c.IsResidentCredential, "rpId": c.RpID,
					"privateKey": c.PrivateKey, "userHandle": c.UserHandle, "signCount": 1,
				},
			}, nil)
		})
		if err != nil {
			t.Fatalf("re-add the credential: %v", err)
		}

		before := eventCount(t, e, "webauthn.counter_regressed")
		tb.logout()
		tb.login("clone@example.com", "2fa_required")
		tb.authenticate().want(t, 401, "invalid_credentials")
		if got := eventCount(t, e, "webauthn.counter_regressed"); got != before+1 {
			t.Errorf("webauthn.counter_regressed events: got %d, want %d", got, before+1)
		}
		if !e.alerted("clone@example.com", "copied") {
			t.Errorf("no alert for the counter regression")
		}
	})

	t.Run("CeremonyFromAnotherOriginRefused", func(t *testing.T) {
		// A phishing page on another origin (same host, so the RP ID fits)
		// relays the server's options to the authenticator and the answer
		// back: the browser signs its own origin, which the server refuses.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		phish := httptest.NewUnstartedServer(servePage(http.NotFoundHandler()))
		phish.Listener.Close()
		phish.Listener = ln
		phish.Start()
		t.Cleanup(phish.Close)
		phishURL := fmt.Sprintf("http://localhost:%d", ln.Addr().(*net.TCPAddr).Port)

		tb := newTab(t, browser, e.PublicURL)
		tb.signUp("phish@example.com")
		r, _ := tb.registerKey("Key")
		r.want(t, 200, "")
		tb.logout()
		tb.login("phish@example.com", "2fa_required")
		options := tb.startAuth()

		tb.navigate(phishURL)
		relayed := tb.assert(options)

		tb.navigate(e.PublicURL)
		before := strings.Count(e.Logs.String(), "origin is not exactly")
		tb.complete(relayed).want(t, 401, "invalid_credentials")
		if strings.Count(e.Logs.String(), "origin is not exactly") != before+1 {
			t.Errorf("not refused for its origin")
		}
		tb.authenticate().want(t, 200, "")
	})
}
