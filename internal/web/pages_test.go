package web_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/twofold-auth/twofold/internal/auth"
	"github.com/twofold-auth/twofold/internal/ratelimit"
)

// everyPage visits each page of the UI in its interesting states and returns
// them by name.
func everyPage(t *testing.T, s *site) map[string]result {
	pages := map[string]result{}
	anon := s.browser()
	pages["login"] = anon.get("/login")
	pages["login, wrong password"] = anon.post("/login", "email", "nobody@example.com", "password", "wrong password")
	pages["signup"] = anon.get("/signup")
	pages["signup, bad password"] = anon.post("/signup", "email", "x@example.com", "password", "short")

	fresh := s.signup("fresh@example.com")
	pages["settings, no second factor"] = fresh.get("/settings")
	setup := fresh.post("/settings/totp", "name", "Phone")
	pages["authenticator setup"] = setup
	pages["authenticator setup, wrong code"] = fresh.post("/settings/totp/confirm", "code", "000000")
	pages["backup codes"] = fresh.post("/settings/totp/confirm", "code", s.code(submatch(keyRE, setup.Body)))
	s.nextStep()
	pages["settings, enrolled"] = fresh.get("/settings")

	b := s.pendingLogin("fresh@example.com")
	pages["second factor"] = b.get("/login/2fa")
	pages["second factor, wrong code"] = b.post("/login/2fa", "method", "totp", "code", "000000")
	pages["second factor, backup code"] = b.get("/login/2fa?method=backup_code")

	s.Clock.Advance(auth.RecentAuthWindow + time.Minute)
	pages["reauthentication"] = fresh.post("/settings/backup-codes")
	return pages
}

func TestPagesHaveNoInlineScriptOrStyleAndLabelEveryField(t *testing.T) {
	s := newSite(t)
	for name, r := range everyPage(t, s) {
		t.Run(name, func(t *testing.T) {
			if r.Status == 0 || r.Status >= 500 {
				t.Fatalf("got status %d", r.Status)
			}
			if got := r.Header.Get("Content-Security-Policy"); !strings.Contains(got, "script-src 'self'") || strings.Contains(got, "unsafe-inline") {
				t.Errorf("Content-Security-Policy %q, want script-src 'self' and no unsafe-inline", got)
			}
			if got := r.Header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", got)
			}
			checkHTML(t, r.Body)
		})
	}
}

// checkHTML fails on inline script or style, event-handler attributes,
// javascript: URLs, form fields without a label, and duplicate ids.
func checkHTML(t *testing.T, body string) {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatalf("page does not parse: %v", err)
	}
	ids := map[string]int{}
	labelFor := map[string]bool{}
	var fields []*html.Node
	var walk func(n *html.Node, inLabel bool)
	walk = func(n *html.Node, inLabel bool) {
		if n.Type == html.ElementNode {
			for _, a := range n.Attr {
				switch {
				case a.Key == "style":
					t.Errorf("<%s> has an inline style attribute", n.Data)
				case strings.HasPrefix(a.Key, "on"):
					t.Errorf("<%s> has an inline event handler %s", n.Data, a.Key)
				case (a.Key == "href" || a.Key == "src" || a.Key == "action") && strings.HasPrefix(strings.TrimSpace(strings.ToLower(a.Val)), "javascript:"):
					t.Errorf("<%s> has a javascript: URL", n.Data)
				case a.Key == "id":
					ids[a.Val]++
				}
			}
			switch n.Data {
			case "style":
				t.Errorf("page has a <style> element")
			case "script":
				if attr(n, "src") == "" || n.FirstChild != nil {
					t.Errorf("page has an inline <script>")
				}
			case "label":
				if f := attr(n, "for"); f != "" {
					labelFor[f] = true
				}
				inLabel = true
			case "input", "select", "textarea":
				switch attr(n, "type") {
				case "hidden", "submit", "button":
				default:
					if !inLabel {
						fields = append(fields, n)
					}
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, inLabel)
		}
	}
	walk(doc, false)
	for _, f := range fields {
		id := attr(f, "id")
		if !labelFor[id] && attr(f, "aria-label") == "" && attr(f, "aria-labelledby") == "" {
			t.Errorf("field %q (id %q) has no label", attr(f, "name"), id)
		}
	}
	for id, n := range ids {
		if n > 1 {
			t.Errorf("id %q is used %d times", id, n)
		}
	}
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func TestFormsUseTheSpecFieldNames(t *testing.T) {
	s := newSite(t)
	s.enroll("names@example.com")
	b := s.browser()
	for _, name := range []string{`name="email"`, `name="password"`} {
		b.get("/login").wantPage(t, 200, name)
		b.get("/signup").wantPage(t, 200, name)
	}
	s.pendingLogin("names@example.com").get("/login/2fa").wantPage(t, 200, `name="code"`)
}

func TestRootSendsVisitorsToLoginOrSettings(t *testing.T) {
	s := newSite(t)
	s.browser().get("/").wantRedirect(t, "/login")
	s.signup("root@example.com").get("/").wantRedirect(t, "/settings")
	s.enroll("pending@example.com")
	s.pendingLogin("pending@example.com").get("/").wantRedirect(t, "/login")
}

func TestPagesNeedTheRightSession(t *testing.T) {
	s := newSite(t)
	s.browser().get("/settings").wantRedirect(t, "/login")
	s.browser().get("/login/2fa").wantRedirect(t, "/login")
	s.browser().post("/settings/backup-codes").wantRedirect(t, "/login")
	s.enroll("state@example.com")
	p := s.pendingLogin("state@example.com")
	p.get("/settings").wantRedirect(t, "/login/2fa")
	p.post("/settings/totp").wantRedirect(t, "/login/2fa")
	s.signup("done@example.com").get("/login/2fa").wantRedirect(t, "/settings")
}

func TestLoginWithAuthenticatorCode(t *testing.T) {
	s := newSite(t)
	a := s.enroll("totp@example.com")
	b := s.pendingLogin(a.email)
	b.post("/login/2fa", "method", "totp", "code", s.code(a.key)).wantRedirect(t, "/settings")
	b.get("/settings").wantPage(t, 200, "Account settings")
}

func TestLoginWithBackupCode(t *testing.T) {
	s := newSite(t)
	a := s.enroll("backup@example.com")
	b := s.pendingLogin(a.email)
	b.get("/login/2fa?method=backup_code").wantPage(t, 200, "Backup code")
	b.post("/login/2fa", "method", "backup_code", "code", strings.ToUpper(a.codes[0])).wantRedirect(t, "/settings")
	b.get("/settings").wantPage(t, 200, "<strong>9</strong> unused backup codes")

	again := s.pendingLogin(a.email)
	again.post("/login/2fa", "method", "backup_code", "code", a.codes[0]).wantPage(t, 401, "That code did not work")
}

func TestWrongCodeIsAnnounced(t *testing.T) {
	s := newSite(t)
	a := s.enroll("wrong@example.com")
	r := s.pendingLogin(a.email).post("/login/2fa", "method", "totp", "code", "000000")
	r.wantPage(t, 401, `aria-live="assertive"`)
	if !strings.Contains(r.alert(), "That code did not work") {
		t.Fatalf("error message %q, want the wrong-code message", r.alert())
	}
	if !strings.Contains(r.Body, `aria-invalid="true"`) {
		t.Error("code field is not marked invalid")
	}
}

func TestLockoutSaysWhenItEnds(t *testing.T) {
	s := newSite(t)
	a := s.enroll("locked@example.com")
	b := s.pendingLogin(a.email)
	for range 5 {
		b.post("/login/2fa", "method", "totp", "code", "000000")
	}
	r := b.post("/login/2fa", "method", "totp", "code", s.code(a.key))
	r.wantPage(t, 429, "Too many wrong codes")
	until := s.Clock.Now().Add(15 * time.Minute).UTC().Format("15:04 UTC")
	if !strings.Contains(r.alert(), until) || !strings.Contains(r.alert(), "15 minutes") {
		t.Fatalf("lockout message %q, want the end time %s and 15 minutes", r.alert(), until)
	}
}

func TestRateLimitIsExplained(t *testing.T) {
	s := newSite(t, func(o *auth.Options) { o.VerifyRate = ratelimit.Rate{N: 2, Per: time.Minute} })
	a := s.enroll("limited@example.com")
	b := s.pendingLogin(a.email)
	b.post("/login/2fa", "method", "totp", "code", "000000")
	b.post("/login/2fa", "method", "totp", "code", "000001")
	r := b.post("/login/2fa", "method", "totp", "code", "000002")
	r.wantPage(t, 429, "Too many attempts in a short time")
	if !strings.Contains(r.alert(), "seconds") {
		t.Fatalf("rate-limit message %q, want how long to wait", r.alert())
	}
}

func TestLoginErrorKeepsEmailAndSaysNothingAboutTheAccount(t *testing.T) {
	s := newSite(t)
	s.signup("known@example.com")
	unknown := s.browser().post("/login", "email", "unknown@example.com", "password", pw)
	wrong := s.browser().post("/login", "email", "known@example.com", "password", "not the password")
	unknown.wantPage(t, 401, `value="unknown@example.com"`)
	wrong.wantPage(t, 401, `value="known@example.com"`)
	if unknown.alert() != wrong.alert() {
		t.Fatalf("unknown email says %q, wrong password says %q: want the same", unknown.alert(), wrong.alert())
	}
}

func TestSignupErrors(t *testing.T) {
	s := newSite(t)
	s.signup("taken@example.com")
	s.browser().post("/signup", "email", "Taken@Example.com ", "password", pw).wantPage(t, 409, "already exists")
	s.browser().post("/signup", "email", "new@example.com", "password", "short").wantPage(t, 400, "8 to 1024 characters")
}

func TestSessionRotatesAtEveryStep(t *testing.T) {
	s := newSite(t)
	a := s.enroll("rotate@example.com")
	b := s.browser()
	login := b.post("/login", "email", a.email, "password", pw)
	before := cookieOf(login)
	done := b.post("/login/2fa", "method", "totp", "code", s.code(a.key))
	after := cookieOf(done)
	if before == "" || after == "" || before == after {
		t.Fatal("the session cookie was not replaced when the second factor was accepted")
	}
	c := done.Header.Values("Set-Cookie")[0]
	for _, want := range []string{"HttpOnly", "SameSite=Lax", "Path=/"} {
		if !strings.Contains(c, want) {
			t.Errorf("session cookie lacks %s", want)
		}
	}
}

func cookieOf(r result) string {
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == "twofold_session" {
			return c.Value
		}
	}
	return ""
}

func TestSetupWrongCodeShowsTheSameKey(t *testing.T) {
	s := newSite(t)
	b := s.signup("retry@example.com")
	key := submatch(keyRE, b.post("/settings/totp").Body)
	r := b.post("/settings/totp/confirm", "code", "000000")
	r.wantPage(t, 400, "That code did not work")
	if submatch(keyRE, r.Body) != key {
		t.Fatal("the retry page shows a different key")
	}
	b.post("/settings/totp/confirm", "code", s.code(key)).wantPage(t, 200, "Save your backup codes")
}

func TestSecondAuthenticatorNeedsNoNewBackupCodes(t *testing.T) {
	s := newSite(t)
	a := s.enroll("two@example.com")
	key := submatch(keyRE, a.b.post("/settings/totp", "name", "Tablet").Body)
	a.b.post("/settings/totp/confirm", "code", s.code(key)).wantRedirect(t, "/settings?done=totp_added")
	r := a.b.get("/settings?done=totp_added")
	r.wantPage(t, 200, "Tablet")
	r.wantPage(t, 200, "Authenticator app added")
}

func TestReauthenticationPromptThenRunsTheChange(t *testing.T) {
	s := newSite(t)
	a := s.enroll("reauth@example.com")
	s.Clock.Advance(auth.RecentAuthWindow + time.Minute)
	r := a.b.post("/settings/backup-codes")
	r.wantPage(t, 403, "Confirm it is you")
	r.wantPage(t, 403, `name="action" value="backup-codes"`)

	a.b.post("/settings/reauth", "action", "backup-codes", "password", "wrong password", "method", "totp", "code", s.code(a.key)).
		wantPage(t, 401, "That password is not right")
	a.b.post("/settings/reauth", "action", "backup-codes", "password", pw, "method", "totp", "code", "000000").
		wantPage(t, 401, "That code did not work")
	done := a.b.post("/settings/reauth", "action", "backup-codes", "password", pw, "method", "totp", "code", s.code(a.key))
	done.wantPage(t, 200, "Your new backup codes")
	if cookieOf(done) == "" {
		t.Error("re-authentication did not rotate the session")
	}
	if codes := codesRE.FindAllStringSubmatch(done.Body, -1); len(codes) != 10 {
		t.Fatalf("got %d new codes, want 10", len(codes))
	}
	// The old codes are void.
	s.pendingLogin(a.email).post("/login/2fa", "method", "backup_code", "code", a.codes[0]).wantPage(t, 401, "That code did not work")
}

func TestReauthRefusesUnknownChanges(t *testing.T) {
	s := newSite(t)
	b := s.signup("unknown-action@example.com")
	b.post("/settings/reauth", "action", "../admin", "password", pw).wantPage(t, 400, "Unknown change")
}

func TestRemoveAuthenticator(t *testing.T) {
	s := newSite(t)
	a := s.enroll("remove@example.com")
	settings := a.b.get("/settings").Body
	i := strings.Index(settings, `action="/settings/totp/`)
	if i < 0 {
		t.Fatal("settings shows no remove button")
	}
	path := settings[i+len(`action="`):]
	path = path[:strings.IndexByte(path, '"')]
	a.b.post(path).wantRedirect(t, "/settings?done=totp_removed")
	a.b.get("/settings").wantPage(t, 200, `badge-off`)
	// With no second factor left, a password is enough again.
	s.browser().post("/login", "email", a.email, "password", pw).wantRedirect(t, "/settings")
}

func TestLowBackupCodesWarn(t *testing.T) {
	s := newSite(t)
	a := s.enroll("low@example.com")
	for _, c := range a.codes[:7] {
		s.pendingLogin(a.email).post("/login/2fa", "method", "backup_code", "code", c).wantRedirect(t, "/settings")
	}
	r := a.b.get("/settings")
	r.wantPage(t, 200, "<strong>3</strong> unused backup codes")
	r.wantPage(t, 200, "generate a new set")
}

func TestRecentActivityShowsTheAuditLog(t *testing.T) {
	s := newSite(t)
	a := s.enroll("activity@example.com")
	s.browser().post("/login", "email", a.email, "password", "not the password")
	r := a.b.get("/settings")
	for _, want := range []string{"Account created", "Authenticator app added", "Wrong password entered", "127.0.0.1"} {
		r.wantPage(t, 200, want)
	}
}

func TestLogout(t *testing.T) {
	s := newSite(t)
	b := s.signup("bye@example.com")
	r := b.post("/logout")
	r.wantRedirect(t, "/login?done=signed_out")
	b.get("/settings").wantRedirect(t, "/login")
	b.get("/login?done=signed_out").wantPage(t, 200, "You have signed out")
}

func TestCrossOriginFormPostsAreRefused(t *testing.T) {
	s := newSite(t)
	s.signup("csrf@example.com")
	for name, h := range map[string]http.Header{
		"cross-site fetch metadata": {"Sec-Fetch-Site": {"cross-site"}},
		"same-site fetch metadata":  {"Sec-Fetch-Site": {"same-site"}},
		"foreign origin":            {"Origin": {"http://evil.example"}},
	} {
		t.Run(name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", s.URL+"/login", strings.NewReader("email=csrf%40example.com&password="+strings.ReplaceAll(pw, " ", "+")))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for k, v := range h {
				req.Header[k] = v
			}
			res, err := http.DefaultTransport.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusForbidden || len(res.Cookies()) != 0 {
				t.Fatalf("got %d with %d cookies, want 403 and no session", res.StatusCode, len(res.Cookies()))
			}
		})
	}
}

func TestStaticFiles(t *testing.T) {
	s := newSite(t)
	body := s.browser().get("/login").Body
	for _, name := range []string{"app.css", "app.js", "icon.svg"} {
		i := strings.Index(body, "/static/"+name+"?v=")
		if i < 0 {
			t.Fatalf("login page does not link %s with a version", name)
		}
		path := body[i:]
		path = path[:strings.IndexByte(path, '"')]
		r := s.browser().get(path)
		if r.Status != 200 || r.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: got %d, nosniff %q", name, r.Status, r.Header.Get("X-Content-Type-Options"))
		}
	}
	if r := s.browser().get("/static/nope.js"); r.Status != 404 {
		t.Errorf("missing file: got %d, want 404", r.Status)
	}
	if r := s.browser().get("/static/../web.go"); r.Status == 200 {
		t.Error("a path outside static/ was served")
	}
}

func TestReauthenticationCarriesWhichFactorToRemove(t *testing.T) {
	s := newSite(t)
	a := s.enroll("carry@example.com")
	settings := a.b.get("/settings").Body
	i := strings.Index(settings, `action="/settings/totp/`)
	path := settings[i+len(`action="`):]
	path = path[:strings.IndexByte(path, '"')]
	id := strings.TrimSuffix(strings.TrimPrefix(path, "/settings/totp/"), "/remove")

	s.Clock.Advance(auth.RecentAuthWindow + time.Minute)
	r := a.b.post(path)
	r.wantPage(t, 403, `name="id" value="`+id+`"`)
	a.b.post("/settings/reauth", "action", "totp-remove", "id", id, "password", pw, "method", "backup_code", "code", a.codes[0]).
		wantRedirect(t, "/settings?done=totp_removed")
}

func TestReauthenticationWithoutSecondFactorNeedsOnlyThePassword(t *testing.T) {
	s := newSite(t)
	b := s.signup("plain@example.com")
	s.Clock.Advance(auth.RecentAuthWindow + time.Minute)
	r := b.post("/settings/totp", "name", "Tablet")
	r.wantPage(t, 403, `name="name" value="Tablet"`)
	if strings.Contains(r.Body, `name="code"`) {
		t.Error("the prompt asks for a code from an account without a second factor")
	}
	b.post("/settings/reauth", "action", "totp-setup", "name", "Tablet", "password", pw).wantPage(t, 200, "Add an authenticator app")
}

func TestOversizedFormIsRefused(t *testing.T) {
	s := newSite(t)
	big := strings.Repeat("a", 70<<10)
	s.browser().post("/login", "email", "x@example.com", "password", big).wantPage(t, 400, "The form could not be read")
	s.signup("big@example.com").post("/settings/totp", "name", big).wantPage(t, 400, "The form could not be read")
}
