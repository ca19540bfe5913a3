package web_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/twofold-auth/twofold/internal/auth"
	"github.com/twofold-auth/twofold/internal/notify"
	"github.com/twofold-auth/twofold/internal/password"
	"github.com/twofold-auth/twofold/internal/pgtest"
	"github.com/twofold-auth/twofold/internal/seal"
	"github.com/twofold-auth/twofold/internal/server"
	"github.com/twofold-auth/twofold/internal/testclock"
	"github.com/twofold-auth/twofold/internal/testdb"
	"github.com/twofold-auth/twofold/internal/totp"
)

func TestMain(m *testing.M) {
	code := pgtest.Run(m)
	closeBrowser()
	os.Exit(code)
}

// pw is the password every test account has.
const pw = "correct horse battery staple"

// clock is a settable clock for the service.
type clock = testclock.Clock

// site is the real twofold handler on 127.0.0.1, reached as
// http://localhost:PORT (its public URL), with an injected clock.
type site struct {
	t     testing.TB
	URL   string
	Clock *clock
	Auth  *auth.Service
	// Outbox is the dev outbox file that SMS codes and alerts go to.
	Outbox string
}

// siteDeviceTTL is how long "remember this device" lasts on test sites.
const siteDeviceTTL = 30 * 24 * time.Hour

// lastSMS returns the code in the newest SMS to phone in the outbox. It
// delivers what is queued first.
func (s *site) lastSMS(phone string) string {
	s.t.Helper()
	if _, err := s.Auth.DeliverDue(context.Background()); err != nil {
		s.t.Fatalf("deliver due messages: %v", err)
	}
	f, err := os.Open(s.Outbox)
	if err != nil {
		s.t.Fatalf("no outbox: %v", err)
	}
	defer f.Close()
	code := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]string
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			s.t.Fatalf("outbox line is not JSON: %v", err)
		}
		if m["channel"] == "sms" && m["to"] == phone {
			code = sixDigits.FindString(m["body"])
		}
	}
	if code == "" {
		s.t.Fatalf("no SMS code to %s in the outbox", phone)
	}
	return code
}

var sixDigits = regexp.MustCompile(`\b\d{6}\b`)

func newSite(t testing.TB, mods ...func(*auth.Options)) *site {
	t.Helper()
	return newSiteWithDeviceTTL(t, siteDeviceTTL, mods...)
}

// newSiteWithDeviceTTL is newSite with "remember this device" lasting ttl
// (0: off).
func newSiteWithDeviceTTL(t testing.TB, ttl time.Duration, mods ...func(*auth.Options)) *site {
	t.Helper()
	db := testdb.Open(t, testdb.New(t))
	clk := testclock.New(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
	outbox := t.TempDir() + "/outbox.jsonl"
	k, err := seal.NewKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	o := auth.Options{
		Now:      clk.Now,
		Hasher:   password.New(password.Params{Time: 1, MemoryKiB: 1024, Threads: 1, KeyLen: 32, SaltLen: 16}, 0),
		Keys:     seal.NewRing(k),
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		Notifier: notify.NewOutbox(outbox, clk.Now),
	}
	for _, m := range mods {
		m(&o)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	origin := "http://localhost:" + strings.TrimPrefix(ln.Addr().String(), "127.0.0.1:")
	if o.PublicURL == "" {
		o.PublicURL = origin // the WebAuthn relying party's origin
	}
	svc, err := auth.New(db, o)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	srv := httptest.NewUnstartedServer(server.New(server.Deps{
		Auth: svc, Logger: o.Logger, Metrics: server.NewMetrics(reg), Gatherer: reg, Origin: origin,
		TrustedDeviceTTL: ttl,
	}))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return &site{t: t, URL: origin, Clock: clk, Auth: svc, Outbox: outbox}
}

// code is an authenticator's code at the site's current time.
func (s *site) code(key string) string {
	secret, err := totp.DecodeSecret(strings.ReplaceAll(key, " ", ""))
	if err != nil {
		s.t.Fatalf("manual key does not decode: %v", err)
	}
	return totp.Code(secret, s.Clock.Now(), totp.Default)
}

// nextStep moves the clock to the next TOTP time step, so a new code is
// accepted (each step is accepted once).
func (s *site) nextStep() { s.Clock.Advance(30 * time.Second) }

// browser is a plain HTTP client that acts like a browser submitting forms
// from the site's own pages (Sec-Fetch-Site: same-origin), without
// following redirects.
type browser struct {
	s    *site
	http *http.Client
}

func (s *site) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{s: s, http: &http.Client{
		Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// result is a page or redirect.
type result struct {
	Status   int
	Location string
	Header   http.Header
	Body     string
}

func (b *browser) do(method, path string, form url.Values) result {
	b.s.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.s.URL+path, body)
	if err != nil {
		b.s.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", b.s.URL)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	res, err := b.http.Do(req)
	if err != nil {
		b.s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return result{Status: res.StatusCode, Location: res.Header.Get("Location"), Header: res.Header, Body: string(raw)}
}

func (b *browser) get(path string) result { return b.do("GET", path, nil) }

func (b *browser) post(path string, kv ...string) result {
	f := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		f.Add(kv[i], kv[i+1])
	}
	return b.do("POST", path, f)
}

// wantRedirect fails unless r is a 303 to loc.
func (r result) wantRedirect(t testing.TB, loc string) {
	t.Helper()
	if r.Status != http.StatusSeeOther || r.Location != loc {
		t.Fatalf("got %d Location %q, want 303 to %q", r.Status, r.Location, loc)
	}
}

// wantPage fails unless r is a page with status that contains text. A
// failure shows the page's title and error message, never the whole page,
// which may hold a key or backup codes.
func (r result) wantPage(t testing.TB, status int, text string) {
	t.Helper()
	if r.Status != status || !strings.Contains(r.Body, text) {
		t.Fatalf("got %d %q (error %q), want %d with %q", r.Status, r.title(), r.alert(), status, text)
	}
}

var (
	titleRE = regexp.MustCompile(`<title>([^<]*)</title>`)
	alertRE = regexp.MustCompile(`(?s)role="alert"[^>]*>.*?<p>(.*?)</p>`)
	keyRE   = regexp.MustCompile(`data-key="([A-Z2-7]+)"`)
	codesRE = regexp.MustCompile(`<li><code>([0-9a-z]{5}-[0-9a-z]{5})</code></li>`)
)

func (r result) title() string { return submatch(titleRE, r.Body) }

// alert is the page's error message.
func (r result) alert() string { return submatch(alertRE, r.Body) }

func submatch(re *regexp.Regexp, s string) string {
	m := re.FindStringSubmatch(s)
	if m == nil {
		return ""
	}
	return m[1]
}

// account is a signed-in browser with an authenticator app.
type account struct {
	b     *browser
	email string
	key   string
	codes []string
}

// signup creates an account through the sign-up form.
func (s *site) signup(email string) *browser {
	s.t.Helper()
	b := s.browser()
	b.post("/signup", "email", email, "password", pw).wantRedirect(s.t, "/settings?done=signed_up")
	return b
}

// enroll signs email up and adds an authenticator app through the forms.
func (s *site) enroll(email string) account {
	s.t.Helper()
	b := s.signup(email)
	setup := b.post("/settings/totp", "name", "Phone")
	setup.wantPage(s.t, 200, "Add an authenticator app")
	key := submatch(keyRE, setup.Body)
	done := b.post("/settings/totp/confirm", "code", s.code(key))
	done.wantPage(s.t, 200, "Save your backup codes")
	var codes []string
	for _, m := range codesRE.FindAllStringSubmatch(done.Body, -1) {
		codes = append(codes, m[1])
	}
	if len(codes) != 10 {
		s.t.Fatalf("backup codes page shows %d codes, want 10", len(codes))
	}
	s.nextStep()
	return account{b: b, email: email, key: key, codes: codes}
}

// pendingLogin signs in with the password on a new browser and expects
// the second-factor prompt.
func (s *site) pendingLogin(email string) *browser {
	s.t.Helper()
	b := s.browser()
	b.post("/login", "email", email, "password", pw).wantRedirect(s.t, "/login/2fa")
	return b
}
