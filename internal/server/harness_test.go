package server_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/twofold-auth/twofold/internal/auth"
	"github.com/twofold-auth/twofold/internal/notify"
	"github.com/twofold-auth/twofold/internal/password"
	"github.com/twofold-auth/twofold/internal/pgtest"
	"github.com/twofold-auth/twofold/internal/ratelimit"
	"github.com/twofold-auth/twofold/internal/seal"
	"github.com/twofold-auth/twofold/internal/server"
	"github.com/twofold-auth/twofold/internal/testclock"
	"github.com/twofold-auth/twofold/internal/testdb"
)

// clock is a settable clock for the service.
type clock = testclock.Clock

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// cheapHasher keeps tests fast; the real parameters are tested in package password.
var cheapParams = password.Params{Time: 1, MemoryKiB: 1024, Threads: 1, KeyLen: 32, SaltLen: 16}

// env is one twofold server over real HTTP with an injected clock.
type env struct {
	t     testing.TB
	URL   string
	Clock *clock
	DB    testdb.Store
	// DBPath is the SQLite file, or the PostgreSQL URL.
	DBPath string
	Logs   *syncBuffer
	Auth   *auth.Service
	// Outbox is the dev outbox file that alerts go to.
	Outbox string
	// PublicURL is the server's public URL (TWOFOLD_PUBLIC_URL).
	PublicURL string
}

// options tweak an env before it starts.
type options struct {
	auth auth.Options
	deps server.Deps
	// dbPath is the database to use: a SQLite file path or a PostgreSQL URL
	// (see newDatabase); a fresh one when empty.
	dbPath string
	t      testing.TB
	// localhost serves on 127.0.0.1 with the public URL http://localhost:PORT
	// (a secure context for WebAuthn in a browser).
	localhost bool
	// wrap, when set, wraps the server's handler (test pages).
	wrap func(http.Handler) http.Handler
	// wrapStore, when set, wraps the store the service uses (to hold a
	// request at a chosen point).
	wrapStore func(auth.Store) auth.Store
}

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }

// newDatabase returns a fresh database on the backend under test.
func newDatabase(t testing.TB) string { return testdb.New(t) }

// onSQLite pins an env to a SQLite file, for tests that read its bytes.
func onSQLite(o *options) { o.dbPath = testdb.SQLitePath(o.t) }

func newEnv(t testing.TB, mods ...func(*options)) *env {
	t.Helper()
	o := &options{t: t}
	for _, m := range mods {
		m(o)
	}
	if o.dbPath == "" {
		o.dbPath = newDatabase(t)
	}
	db := testdb.Open(t, o.dbPath)
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	clk := testclock.New(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
	reg := prometheus.NewRegistry()
	m := server.NewMetrics(reg)
	ao := o.auth
	ao.Now, ao.Logger, ao.OnEvent = clk.Now, log, m.Event
	if ao.Hasher == nil {
		ao.Hasher = password.New(cheapParams, 0)
	}
	if ao.Keys == nil {
		k, err := seal.NewKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		ao.Keys = seal.NewRing(k)
	}
	outbox := filepath.Join(t.TempDir(), "outbox.jsonl")
	if ao.Notifier == nil {
		ao.Notifier = notify.NewOutbox(outbox, clk.Now)
	}
	var ln net.Listener
	if o.localhost {
		var err error
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatalf("listen: %v", err)
		}
		ao.PublicURL = fmt.Sprintf("http://localhost:%d", ln.Addr().(*net.TCPAddr).Port)
		o.deps.Origin = ao.PublicURL
	}
	if ao.PublicURL == "" {
		ao.PublicURL = "http://localhost:8080"
	}
	var store auth.Store = db
	if o.wrapStore != nil {
		store = o.wrapStore(db)
	}
	svc, err := auth.New(store, ao)
	if err != nil {
		t.Fatalf("new service: %v", err)
	}
	d := o.deps
	d.Auth, d.Logger, d.Metrics, d.Gatherer = svc, log, m, reg
	var h http.Handler = server.New(d)
	if o.wrap != nil {
		h = o.wrap(h)
	}
	srv := httptest.NewUnstartedServer(h)
	if ln != nil {
		srv.Listener.Close()
		srv.Listener = ln
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return &env{t: t, URL: srv.URL, Clock: clk, DB: db, DBPath: o.dbPath, Logs: logs, Auth: svc, Outbox: outbox, PublicURL: ao.PublicURL}
}

// client is a browser-like HTTP client with its own cookie jar.
type client struct {
	e    *env
	jar  *cookiejar.Jar
	http *http.Client
	// header is sent with every request.
	header http.Header
}

func (e *env) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{e: e, jar: jar, http: &http.Client{Jar: jar, Timeout: 30 * time.Second}, header: http.Header{}}
}

// response is a decoded HTTP response.
type response struct {
	Status int
	Header http.Header
	Raw    []byte
	Body   map[string]any
}

// do sends body (marshalled to JSON unless it is a string or []byte).
func (c *client) do(method, path string, body any) *response {
	c.e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			c.e.t.Fatalf("marshal: %v", err)
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, c.e.URL+path, rd)
	if err != nil {
		c.e.t.Fatalf("new request: %v", err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range c.header {
		req.Header[k] = v
	}
	res, err := c.http.Do(req)
	if err != nil {
		c.e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := &response{Status: res.StatusCode, Header: res.Header, Raw: raw}
	if len(raw) > 0 && strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		_ = json.Unmarshal(raw, &r.Body)
	}
	return r
}

// cookie returns the client's current cookie value for name at the server's URL.
func (c *client) cookie(name string) string {
	req, _ := http.NewRequest("GET", c.e.URL+"/", nil)
	for _, ck := range c.jar.Cookies(req.URL) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

// setCookie replaces the client's cookie name (for replaying stolen tokens).
func (c *client) setCookie(name, value string) {
	req, _ := http.NewRequest("GET", c.e.URL+"/", nil)
	c.jar.SetCookies(req.URL, []*http.Cookie{{Name: name, Value: value, Path: "/"}})
}

// errCode returns the error code of an error response.
func (r *response) errCode() string {
	e, _ := r.Body["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

// want fails the test unless the response has status (and, for errors, code).
func (r *response) want(t testing.TB, status int, code string) *response {
	t.Helper()
	if r.Status != status || (code != "" && r.errCode() != code) {
		t.Fatalf("got %d %s, want %d %s; body: %s", r.Status, r.errCode(), status, code, r.Raw)
	}
	return r
}

// register signs a new user up and returns the logged-in client.
func (e *env) register(email, pw string) *client {
	e.t.Helper()
	c := e.client()
	c.do("POST", "/api/register", map[string]string{"email": email, "password": pw}).want(e.t, 201, "")
	return c
}

func (r *response) str(path ...string) string {
	var v any = r.Body
	for _, p := range path {
		m, _ := v.(map[string]any)
		v = m[p]
	}
	s, _ := v.(string)
	return s
}

func mustRate(t *testing.T, s string) ratelimit.Rate {
	t.Helper()
	r, err := ratelimit.ParseRate(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func mustKey(t *testing.T) seal.Key {
	t.Helper()
	k, err := seal.NewKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func ringOf(keys ...seal.Key) *seal.Ring { return seal.NewRing(keys[0], keys[1:]...) }
