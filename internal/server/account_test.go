package server_test

import (
	"context"
	"github.com/twofold-auth/twofold/internal/password"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twofold-auth/twofold/internal/server"
)

const pw = "correct horse battery staple"

func TestRegister(t *testing.T) {
	e := newEnv(t)

	t.Run("CreatesUserAndAuthenticatedSession", func(t *testing.T) {
		c := e.client()
		r := c.do("POST", "/api/register", map[string]string{"email": "new@example.com", "password": pw}).want(t, 201, "")
		if got := r.str("user", "email"); got != "new@example.com" {
			t.Errorf("email: got %q, want new@example.com", got)
		}
		u := r.Body["user"].(map[string]any)
		for _, k := range []string{"id", "email", "two_factor_enabled", "created_at"} {
			if _, ok := u[k]; !ok {
				t.Errorf("user object lacks %q: %s", k, r.Raw)
			}
		}
		if u["two_factor_enabled"] != false {
			t.Errorf("two_factor_enabled: got %v, want false", u["two_factor_enabled"])
		}
		me := c.do("GET", "/api/me", nil).want(t, 200, "")
		if me.str("user", "id") != r.str("user", "id") {
			t.Errorf("me id: got %q, want %q", me.str("user", "id"), r.str("user", "id"))
		}
	})

	t.Run("EmailTrimmedAndLowerCased", func(t *testing.T) {
		r := e.client().do("POST", "/api/register", map[string]string{"email": "  Mixed.Case@Example.COM \t", "password": pw}).want(t, 201, "")
		if got := r.str("user", "email"); got != "mixed.case@example.com" {
			t.Errorf("got %q, want mixed.case@example.com", got)
		}
	})

	t.Run("DuplicateEmailCaseInsensitive", func(t *testing.T) {
		e.client().do("POST", "/api/register", map[string]string{"email": "dup@example.com", "password": pw}).want(t, 201, "")
		e.client().do("POST", "/api/register", map[string]string{"email": " DUP@example.com", "password": pw}).want(t, 409, "email_taken")
	})

	t.Run("PasswordLengthBounds", func(t *testing.T) {
		cases := []struct {
			name   string
			pw     string
			status int
		}{
			{"7Chars", "1234567", 400},
			{"8Chars", "12345678", 201},
			{"8MultibyteChars", "ééééééé€", 201},
			{"1024Chars", strings.Repeat("a", 1024), 201},
			{"1025Chars", strings.Repeat("a", 1025), 400},
		}
		for i, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				email := "len" + string(rune('a'+i)) + "@example.com"
				r := e.client().do("POST", "/api/register", map[string]string{"email": email, "password": tc.pw})
				r.want(t, tc.status, map[int]string{400: "invalid_request", 201: ""}[tc.status])
			})
		}
	})

	t.Run("BadEmailRefused", func(t *testing.T) {
		for _, em := range []string{"", "no-at-sign", "@example.com", "a@", "a b@example.com", "Name <a@example.com>", strings.Repeat("a", 250) + "@example.com"} {
			e.client().do("POST", "/api/register", map[string]string{"email": em, "password": pw}).want(t, 400, "invalid_request")
		}
	})
}

func TestMalformedRequests(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	cases := map[string]string{
		"NotJSON":        "{not json",
		"Array":          `["a"]`,
		"TrailingData":   `{"email":"a@example.com","password":"12345678"} {}`,
		"WrongFieldType": `{"email":42,"password":"12345678"}`,
		"Oversized":      `{"email":"a@example.com","password":"12345678","pad":"` + strings.Repeat("x", 64<<10) + `"}`,
		"String":         `"hello"`,
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			for _, path := range []string{"/api/register", "/api/login"} {
				r := c.do("POST", path, body).want(t, 400, "invalid_request")
				if msg, _ := r.Body["error"].(map[string]any)["message"].(string); msg == "" {
					t.Errorf("%s: empty error message", path)
				}
			}
		})
	}
	t.Run("UnknownFieldsIgnored", func(t *testing.T) {
		c.do("POST", "/api/register", `{"email":"extra@example.com","password":"12345678","nickname":"x"}`).want(t, 201, "")
	})
	t.Run("UnknownEndpointIsJSON404", func(t *testing.T) {
		c.do("GET", "/api/nope", nil).want(t, 404, "not_found")
	})
	t.Run("WrongMethodIsJSON405", func(t *testing.T) {
		r := c.do("GET", "/api/login", nil).want(t, 405, "invalid_request")
		if r.Header.Get("Allow") == "" {
			t.Errorf("405 without Allow header")
		}
	})
}

func TestLogin(t *testing.T) {
	e := newEnv(t)
	e.register("alice@example.com", pw)

	t.Run("AuthenticatedWithoutSecondFactor", func(t *testing.T) {
		c := e.client()
		r := c.do("POST", "/api/login", map[string]string{"email": "ALICE@example.com ", "password": pw}).want(t, 200, "")
		if r.str("status") != "authenticated" || r.str("user", "email") != "alice@example.com" {
			t.Errorf("got %s, want status authenticated for alice", r.Raw)
		}
		c.do("GET", "/api/me", nil).want(t, 200, "")
	})

	t.Run("WrongPasswordAndUnknownEmailLookTheSame", func(t *testing.T) {
		wrong := e.client().do("POST", "/api/login", map[string]string{"email": "alice@example.com", "password": "not the password"}).want(t, 401, "invalid_credentials")
		unknown := e.client().do("POST", "/api/login", map[string]string{"email": "nobody@example.com", "password": "not the password"}).want(t, 401, "invalid_credentials")
		if string(wrong.Raw) != string(unknown.Raw) {
			t.Errorf("bodies differ: got %s and %s", wrong.Raw, unknown.Raw)
		}
		if wrong.Header.Get("Set-Cookie") != "" || unknown.Header.Get("Set-Cookie") != "" {
			t.Errorf("failed login set a cookie")
		}
	})

	t.Run("MissingFieldsAreInvalidRequest", func(t *testing.T) {
		e.client().do("POST", "/api/login", map[string]string{"email": "alice@example.com"}).want(t, 400, "invalid_request")
		e.client().do("POST", "/api/login", nil).want(t, 400, "invalid_request")
	})
}

func TestSessions(t *testing.T) {
	e := newEnv(t)
	c := e.register("bob@example.com", pw)

	t.Run("CookieAttributes", func(t *testing.T) {
		r := e.client().do("POST", "/api/login", map[string]string{"email": "bob@example.com", "password": pw}).want(t, 200, "")
		ck := findCookie(t, r.Header, server.SessionCookie)
		if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.Secure {
			t.Errorf("got HttpOnly=%v SameSite=%v Path=%q Secure=%v, want true Lax / false (http)", ck.HttpOnly, ck.SameSite, ck.Path, ck.Secure)
		}
		if len(ck.Value) < 43 {
			t.Errorf("token has %d characters, want >= 43 (256 bits)", len(ck.Value))
		}
	})

	t.Run("SecureCookieOnHTTPS", func(t *testing.T) {
		es := newEnv(t, func(o *options) { o.deps.Secure = true })
		r := es.client().do("POST", "/api/register", map[string]string{"email": "s@example.com", "password": pw}).want(t, 201, "")
		if !findCookie(t, r.Header, server.SessionCookie).Secure {
			t.Errorf("cookie lacks Secure with an https public URL")
		}
	})

	t.Run("NewTokenOnLoginOldOneDead", func(t *testing.T) {
		before := c.cookie(server.SessionCookie)
		c.do("POST", "/api/login", map[string]string{"email": "bob@example.com", "password": pw}).want(t, 200, "")
		after := c.cookie(server.SessionCookie)
		if before == after || after == "" {
			t.Fatalf("session token not replaced on login")
		}
		stale := e.client()
		stale.setCookie(server.SessionCookie, before)
		stale.do("GET", "/api/me", nil).want(t, 401, "unauthenticated")
	})

	t.Run("NoSessionIsUnauthenticated", func(t *testing.T) {
		e.client().do("GET", "/api/me", nil).want(t, 401, "unauthenticated")
		bogus := e.client()
		bogus.setCookie(server.SessionCookie, "bogus")
		bogus.do("GET", "/api/me", nil).want(t, 401, "unauthenticated")
	})

	t.Run("IdleTimeout30Minutes", func(t *testing.T) {
		c := e.register("idle@example.com", pw)
		e.Clock.Advance(20 * time.Minute)
		c.do("GET", "/api/me", nil).want(t, 200, "")
		e.Clock.Advance(20 * time.Minute)
		c.do("GET", "/api/me", nil).want(t, 200, "") // activity kept it alive
		e.Clock.Advance(31 * time.Minute)
		c.do("GET", "/api/me", nil).want(t, 401, "unauthenticated")
	})

	t.Run("AbsoluteTimeout24Hours", func(t *testing.T) {
		c := e.register("abs@example.com", pw)
		for range 49 { // 24.5 hours of steady activity
			e.Clock.Advance(30 * time.Minute)
			r := c.do("GET", "/api/me", nil)
			if r.Status == 401 {
				return
			}
		}
		t.Fatalf("session still alive after 24.5 h of activity")
	})

	t.Run("LogoutDeletesServerSide", func(t *testing.T) {
		c := e.register("out@example.com", pw)
		tok := c.cookie(server.SessionCookie)
		r := c.do("POST", "/api/logout", nil).want(t, 204, "")
		if ck := findCookie(t, r.Header, server.SessionCookie); ck.MaxAge >= 0 {
			t.Errorf("logout did not clear the cookie: MaxAge %d", ck.MaxAge)
		}
		replay := e.client()
		replay.setCookie(server.SessionCookie, tok)
		replay.do("GET", "/api/me", nil).want(t, 401, "unauthenticated")
	})
}

func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	for _, tc := range []struct{ method, path string }{
		{"GET", "/healthz"}, {"GET", "/api/me"}, {"GET", "/api/nope"}, {"POST", "/api/login"},
	} {
		r := c.do(tc.method, tc.path, nil)
		h := r.Header
		csp := h.Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s %s: CSP %q is not strict", tc.method, tc.path, csp)
		}
		for k, want := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"} {
			if got := h.Get(k); got != want {
				t.Errorf("%s %s: %s got %q, want %q", tc.method, tc.path, k, got, want)
			}
		}
		if strings.HasPrefix(tc.path, "/api/") && h.Get("Cache-Control") != "no-store" {
			t.Errorf("%s %s: Cache-Control got %q, want no-store", tc.method, tc.path, h.Get("Cache-Control"))
		}
		if h.Get("X-Request-Id") == "" {
			t.Errorf("%s %s: no X-Request-Id", tc.method, tc.path)
		}
	}
}

func TestCrossOriginRefused(t *testing.T) {
	e := newEnv(t, func(o *options) { o.deps.Origin = "http://auth.example.com" })
	body := map[string]string{"email": "x@example.com", "password": pw}
	cases := []struct {
		name   string
		header map[string]string
		status int
	}{
		{"CrossSiteFetch", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"OtherOriginNoFetchMetadata", map[string]string{"Origin": "https://evil.example"}, 403},
		{"SameOrigin", map[string]string{"Sec-Fetch-Site": "same-origin"}, 201},
		{"NoBrowserHeaders", nil, 409},
		{"TrustedPublicOrigin", map[string]string{"Origin": "http://auth.example.com", "Sec-Fetch-Site": "cross-site"}, 409},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := e.client()
			for k, v := range tc.header {
				c.header.Set(k, v)
			}
			r := c.do("POST", "/api/register", body)
			if r.Status != tc.status {
				t.Fatalf("got %d, want %d: %s", r.Status, tc.status, r.Raw)
			}
			if tc.status == 403 && r.errCode() != "invalid_request" {
				t.Errorf("refusal code got %q, want invalid_request", r.errCode())
			}
		})
	}
	t.Run("SafeMethodsAllowed", func(t *testing.T) {
		c := e.client()
		c.header.Set("Sec-Fetch-Site", "cross-site")
		c.do("GET", "/healthz", nil).want(t, 200, "")
	})
}

func TestEvents(t *testing.T) {
	e := newEnv(t)
	c := e.register("ev@example.com", pw)
	other := e.register("other@example.com", pw)
	c.header.Set("User-Agent", "events-test/1.0")
	e.client().do("POST", "/api/login", map[string]string{"email": "ev@example.com", "password": "wrong password"}).want(t, 401, "")
	c.do("POST", "/api/login", map[string]string{"email": "ev@example.com", "password": pw}).want(t, 200, "")

	r := c.do("GET", "/api/events", nil).want(t, 200, "")
	evs := r.Body["events"].([]any)
	var types []string
	for _, ev := range evs {
		m := ev.(map[string]any)
		types = append(types, m["type"].(string))
		for _, k := range []string{"id", "time", "type", "user_id", "ip", "user_agent", "detail"} {
			if _, ok := m[k]; !ok {
				t.Errorf("event lacks %q", k)
			}
		}
		if m["ip"] != "127.0.0.1" {
			t.Errorf("event ip got %v, want 127.0.0.1", m["ip"])
		}
	}
	want := []string{"login.succeeded", "login.failed", "user.registered"}
	if strings.Join(types, ",") != strings.Join(want, ",") {
		t.Fatalf("got %v, want %v (newest first)", types, want)
	}
	if ua := evs[0].(map[string]any)["user_agent"]; ua != "events-test/1.0" {
		t.Errorf("user_agent got %v, want events-test/1.0", ua)
	}
	t.Run("Limit", func(t *testing.T) {
		r := c.do("GET", "/api/events?limit=1", nil).want(t, 200, "")
		if n := len(r.Body["events"].([]any)); n != 1 {
			t.Errorf("got %d events, want 1", n)
		}
		c.do("GET", "/api/events?limit=abc", nil).want(t, 400, "invalid_request")
		c.do("GET", "/api/events?limit=0", nil).want(t, 400, "invalid_request")
	})
	t.Run("OnlyOwnEvents", func(t *testing.T) {
		r := other.do("GET", "/api/events", nil).want(t, 200, "")
		if n := len(r.Body["events"].([]any)); n != 1 {
			t.Errorf("other user sees %d events, want 1 (their registration)", n)
		}
	})
	t.Run("NeedsSession", func(t *testing.T) {
		e.client().do("GET", "/api/events", nil).want(t, 401, "unauthenticated")
	})
}

func TestOps(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	c.do("GET", "/healthz", nil).want(t, 200, "")
	c.do("GET", "/readyz", nil).want(t, 200, "")
	e.register("m@example.com", pw)
	c.do("POST", "/api/login", map[string]string{"email": "m@example.com", "password": "wrong password"})
	r := c.do("GET", "/metrics", nil).want(t, 200, "")
	for _, want := range []string{
		`twofold_http_requests_total{code="201",route="POST /api/register"} 1`,
		`twofold_http_request_duration_seconds_bucket`,
		`twofold_logins_total{outcome="invalid_credentials"} 1`,
		`twofold_events_total{type="user.registered"} 1`,
	} {
		if !strings.Contains(string(r.Raw), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	t.Run("ReadyzFailsWhenDatabaseCloses", func(t *testing.T) {
		e.DB.Close()
		c.do("GET", "/readyz", nil).want(t, 503, "unavailable")
		c.do("GET", "/healthz", nil).want(t, 200, "")
	})
}

func TestNoSecretsStored(t *testing.T) {
	e := newEnv(t, onSQLite) // reads the database files
	const secretPW = "Zebra-Quartz-Unique-Passw0rd"
	c := e.register("secret@example.com", secretPW)
	tok1 := c.cookie(server.SessionCookie)
	c.do("POST", "/api/login", map[string]string{"email": "secret@example.com", "password": secretPW}).want(t, 200, "")
	e.client().do("POST", "/api/login", map[string]string{"email": "secret@example.com", "password": secretPW + "x"})
	tok2 := c.cookie(server.SessionCookie)
	c.do("GET", "/api/me", nil).want(t, 200, "")

	var files []byte
	for _, suffix := range []string{"", "-wal", "-shm"} {
		b, _ := os.ReadFile(e.DBPath + suffix)
		files = append(files, b...)
	}
	if len(files) == 0 {
		t.Fatal("database files are empty")
	}
	for name, s := range map[string]string{"password": secretPW, "first session token": tok1, "second session token": tok2} {
		if strings.Contains(string(files), s) {
			t.Errorf("the database files contain the %s", name)
		}
		if strings.Contains(e.Logs.String(), s) {
			t.Errorf("the log contains the %s", name)
		}
	}
	if !strings.Contains(e.Logs.String(), `"request_id"`) {
		t.Errorf("request log lines lack request_id")
	}
}

func findCookie(t *testing.T, h http.Header, name string) *http.Cookie {
	t.Helper()
	for _, ck := range (&http.Response{Header: h}).Cookies() {
		if ck.Name == name {
			return ck
		}
	}
	t.Fatalf("no Set-Cookie for %s", name)
	return nil
}

func TestClientIPBehindTrustedProxy(t *testing.T) {
	t.Run("TrustedProxy", func(t *testing.T) {
		e := newEnv(t, func(o *options) {
			o.deps.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
			o.auth.AuthRate = mustRate(t, "2/h")
		})
		c := e.client()
		c.header.Set("X-Forwarded-For", "198.51.100.7")
		c.do("POST", "/api/register", map[string]string{"email": "xff@example.com", "password": pw}).want(t, 201, "")
		r := c.do("GET", "/api/events", nil).want(t, 200, "")
		if ip := r.Body["events"].([]any)[0].(map[string]any)["ip"]; ip != "198.51.100.7" {
			t.Errorf("event ip got %v, want the forwarded client 198.51.100.7", ip)
		}
		// Per-IP limits count the forwarded client, not the load balancer.
		login := map[string]string{"email": "xff@example.com", "password": "wrong password"}
		c.do("POST", "/api/login", login).want(t, 401, "invalid_credentials")
		c.do("POST", "/api/login", login).want(t, 429, "rate_limited")
		other := e.client()
		other.header.Set("X-Forwarded-For", "198.51.100.8")
		other.do("POST", "/api/login", login).want(t, 401, "invalid_credentials")
	})
	t.Run("HeaderIgnoredWithoutTrustedProxies", func(t *testing.T) {
		e := newEnv(t)
		c := e.client()
		c.header.Set("X-Forwarded-For", "198.51.100.7")
		c.do("POST", "/api/register", map[string]string{"email": "xff@example.com", "password": pw}).want(t, 201, "")
		r := c.do("GET", "/api/events", nil).want(t, 200, "")
		if ip := r.Body["events"].([]any)[0].(map[string]any)["ip"]; ip != "127.0.0.1" {
			t.Errorf("event ip got %v, want the peer 127.0.0.1 (header must be ignored)", ip)
		}
	})
}

// stallingHasher holds every password check until the request is given up.
type stallingHasher struct {
	*password.Hasher
	entered chan struct{}
}

func (h stallingHasher) Verify(ctx context.Context, pw, phc string) (bool, bool, error) {
	h.entered <- struct{}{}
	<-ctx.Done()
	return false, false, ctx.Err()
}

func TestClientGoneIsNotAServerError(t *testing.T) {
	h := stallingHasher{Hasher: password.New(cheapParams, 0), entered: make(chan struct{}, 1)}
	e := newEnv(t)
	e.register("gone@example.com", pw)
	e2 := newEnv(t, func(o *options) { o.dbPath = e.DBPath; o.auth.Hasher = h })
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", e2.URL+"/api/login",
		strings.NewReader(`{"email":"gone@example.com","password":"`+pw+`"}`))
	req.Header.Set("Content-Type", "application/json")
	done := make(chan error, 1)
	go func() {
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
		}
		done <- err
	}()
	<-h.entered // the server is checking the password
	cancel()
	if err := <-done; err == nil {
		t.Fatal("the request finished although the client gave up")
	}
	// The server notices the closed connection and logs the request: wait for
	// that line (a real connection closing: no clock to inject).
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(e2.Logs.String(), `"path":"/api/login"`) {
		if time.Now().After(deadline) {
			t.Fatal("no request line logged for the abandoned login")
		}
		time.Sleep(5 * time.Millisecond)
	}
	logs := e2.Logs.String()
	if !strings.Contains(logs, `"status":499`) {
		t.Errorf("abandoned request not logged with status 499")
	}
	if strings.Contains(logs, `"level":"ERROR"`) || strings.Contains(logs, `"status":500`) {
		t.Errorf("a client giving up was logged as a server error")
	}
}
