package main

// End-to-end tests of several real `twofold serve` processes sharing one
// PostgreSQL database: every one-time and counting rule must hold across
// instances, and losing one instance (or the database for a while) must not
// take the others down.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twofold-auth/twofold/internal/pgtest"
	"github.com/twofold-auth/twofold/internal/totp"
)

func TestMain(m *testing.M) {
	code := pgtest.Run(m)
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// binDir holds the binary built for the tests.
var binDir string

// binary builds cmd/twofold (once per test run) as a release is built
// (releaseBuild) and returns its path.
func binary(t *testing.T) string {
	t.Helper()
	exe, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

// releaseBuild is the build command of docs/deploy.md (with CGO_ENABLED=0).
var releaseBuild = []string{"build", "-trimpath"}

var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "twofold-bin-")
	if err != nil {
		return "", err
	}
	binDir = dir
	exe := filepath.Join(dir, "twofold")
	cmd := exec.Command("go", append(releaseBuild, "-o", exe, ".")...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", &buildError{out: string(out), err: err}
	}
	return exe, nil
})

type buildError struct {
	out string
	err error
}

func (e *buildError) Error() string { return "go build: " + e.err.Error() + "\n" + e.out }

// process is one `twofold serve` running as its own OS process.
type process struct {
	URL  string
	cmd  *exec.Cmd
	logs *syncBuffer
	done chan struct{}
}

// startProcess runs the real binary with env (on top of a minimal
// environment) on a free loopback port and waits until /healthz answers.
func startProcess(t *testing.T, env map[string]string) *process {
	t.Helper()
	cmd := exec.Command(binary(t), "serve", "--addr", "127.0.0.1:0")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start twofold: %v", err)
	}
	p := &process{cmd: cmd, logs: &syncBuffer{}, done: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		// Keep draining stderr so the process never blocks on a full pipe.
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			p.logs.Write(append(line, '\n'))
			if a := listenAddr(string(line)); a != "" {
				select {
				case addr <- a:
				default:
				}
			}
		}
		cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(p.kill)
	select {
	case a := <-addr:
		p.URL = "http://" + a
	case <-p.done:
		t.Fatalf("twofold exited at start: %s", p.logs)
	case <-time.After(60 * time.Second):
		t.Fatalf("twofold did not start listening: %s", p.logs)
	}
	if res, err := http.Get(p.URL + "/healthz"); err != nil || res.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", res, err)
	}
	return p
}

// kill ends the process at once (SIGKILL: no graceful shutdown).
func (p *process) kill() {
	if p.cmd.Process != nil {
		p.cmd.Process.Kill()
	}
	<-p.done
}

// member is a client of the cluster that carries its session cookie by hand,
// so the same session can be presented to any instance.
type member struct {
	t       *testing.T
	session string
}

type reply struct {
	Status int
	Header http.Header
	Body   map[string]any
}

func (r reply) code() string {
	if e, ok := r.Body["error"].(map[string]any); ok {
		s, _ := e["code"].(string)
		return s
	}
	return ""
}

var httpClient = &http.Client{Timeout: 20 * time.Second}

// call sends a JSON request to base and keeps the session cookie it sets.
// It is safe to call from several goroutines only on distinct users.
func (u *member) call(base, method, path string, body any) reply {
	u.t.Helper()
	r, err := u.try(base, method, path, body)
	if err != nil {
		u.t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

func (u *member) try(base, method, path string, body any) (reply, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		return reply{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if u.session != "" {
		req.AddCookie(&http.Cookie{Name: "twofold_session", Value: u.session})
	}
	res, err := httpClient.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer res.Body.Close()
	for _, c := range res.Cookies() {
		if c.Name == "twofold_session" {
			u.session = c.Value
		}
	}
	r := reply{Status: res.StatusCode, Header: res.Header}
	raw, _ := io.ReadAll(res.Body)
	_ = json.Unmarshal(raw, &r.Body)
	return r, nil
}

func (u *member) want(r reply, status int, code string) reply {
	u.t.Helper()
	if r.Status != status || (code != "" && r.code() != code) {
		u.t.Fatalf("got %d %q, want %d %q", r.Status, r.code(), status, code)
	}
	return r
}

const clusterPassword = "correct horse battery staple"

// enrolled registers email on base and adds an authenticator app (confirmed
// on other, to show a pending secret is shared), returning its secret and
// backup codes.
func enrolled(t *testing.T, base, other, email string) (secret []byte, backup []string) {
	t.Helper()
	u := &member{t: t}
	u.want(u.call(base, "POST", "/api/register", map[string]string{"email": email, "password": clusterPassword}), 201, "")
	r := u.want(u.call(base, "POST", "/api/2fa/setup", nil), 200, "")
	key, _ := r.Body["manual_key"].(string)
	secret, err := totp.DecodeSecret(key)
	if err != nil {
		t.Fatalf("setup gave an undecodable manual key: %v", err)
	}
	code := totp.Code(secret, time.Now(), totp.Default)
	r = u.want(u.call(other, "POST", "/api/2fa/verify-setup", map[string]string{"token": code}), 200, "")
	for _, c := range r.Body["backup_codes"].([]any) {
		backup = append(backup, c.(string))
	}
	return secret, backup
}

// pending logs email in with its password on base and returns the pending session.
func pending(t *testing.T, base, email string) *member {
	t.Helper()
	u := &member{t: t}
	r := u.want(u.call(base, "POST", "/api/login", map[string]string{"email": email, "password": clusterPassword}), 200, "")
	if r.Body["status"] != "2fa_required" {
		t.Fatalf("login status %v, want 2fa_required", r.Body["status"])
	}
	return u
}

// race sends the same second-factor body from 20 pending sessions at once,
// alternating instances, and counts the answers by status.
func race(t *testing.T, bases []string, email string, body map[string]string) map[int]int {
	t.Helper()
	const clients = 20
	users := make([]*member, clients)
	for i := range users {
		users[i] = pending(t, bases[i%len(bases)], email)
	}
	statuses := make([]int, clients)
	errs := make([]error, clients)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r, err := u.try(bases[i%len(bases)], "POST", "/api/2fa/verify", body)
			statuses[i], errs[i] = r.Status, err
		}()
	}
	close(start)
	wg.Wait()
	count := map[int]int{}
	for i, s := range statuses {
		if errs[i] != nil {
			t.Fatalf("client %d: %v", i, errs[i])
		}
		count[s]++
	}
	return count
}

// clusterEnv is the environment every instance of one cluster shares.
func clusterEnv(t *testing.T, dbURL string) func() map[string]string {
	return func() map[string]string {
		return map[string]string{
			"TWOFOLD_DATABASE_URL": dbURL,
			"TWOFOLD_DATA_DIR":     t.TempDir(),
			// Every instance must share one key.
			"TWOFOLD_ENCRYPTION_KEY":    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
			"TWOFOLD_VERIFY_RATE_LIMIT": "0", // every client here is 127.0.0.1
			"TWOFOLD_AUTH_RATE_LIMIT":   "0",
			"TWOFOLD_LOG_LEVEL":         "warn",
		}
	}
}

// startCluster starts n instances on one fresh PostgreSQL database at once
// (so they also race to migrate it).
func startCluster(t *testing.T, n int) []*process {
	t.Helper()
	envOf := clusterEnv(t, pgtest.EmptyDatabase(t))
	procs := make([]*process, n)
	envs := make([]map[string]string, n)
	for i := range envs {
		envs[i] = envOf()
		// The "listening" line is logged at info.
		envs[i]["TWOFOLD_LOG_LEVEL"] = "info"
	}
	var wg sync.WaitGroup
	for i := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			procs[i] = startProcess(t, envs[i])
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return procs
}

func TestClusterOnPostgres(t *testing.T) {
	pgtest.URL(t)
	procs := startCluster(t, 2)
	a, b := procs[0].URL, procs[1].URL
	both := []string{a, b}

	t.Run("SessionMadeOnOneWorksOnTheOther", func(t *testing.T) {
		u := &member{t: t}
		u.want(u.call(a, "POST", "/api/register", map[string]string{"email": "session@example.com", "password": clusterPassword}), 201, "")
		r := u.want(u.call(b, "GET", "/api/me", nil), 200, "")
		if r.Body["user"].(map[string]any)["email"] != "session@example.com" {
			t.Errorf("instance B sees another user: %v", r.Body["user"])
		}
		u.want(u.call(b, "POST", "/api/logout", nil), 204, "")
		stale := &member{t: t, session: u.session}
		stale.want(stale.call(a, "GET", "/api/me", nil), 401, "unauthenticated")
	})

	t.Run("SecondFactorFinishedOnTheOtherInstance", func(t *testing.T) {
		secret, _ := enrolled(t, a, b, "handoff@example.com")
		u := pending(t, a, "handoff@example.com")
		code := totp.Code(secret, time.Now().Add(30*time.Second), totp.Default)
		u.want(u.call(b, "POST", "/api/2fa/verify", map[string]string{"method": "totp", "code": code}), 200, "")
		u.want(u.call(a, "GET", "/api/me", nil), 200, "")
	})

	t.Run("OneTOTPCodeRacedAcrossInstancesSucceedsOnce", func(t *testing.T) {
		secret, _ := enrolled(t, a, b, "totp-race@example.com")
		// The next step: the one just used to confirm would be a replay.
		code := totp.Code(secret, time.Now().Add(30*time.Second), totp.Default)
		got := race(t, both, "totp-race@example.com", map[string]string{"method": "totp", "code": code})
		if got[200] != 1 || got[200]+got[401]+got[429] != 20 {
			t.Fatalf("statuses %v: want exactly one 200, the rest 401 or 429", got)
		}
	})

	t.Run("OneBackupCodeRacedAcrossInstancesSucceedsOnce", func(t *testing.T) {
		_, backup := enrolled(t, b, a, "backup-race@example.com")
		got := race(t, both, "backup-race@example.com", map[string]string{"method": "backup_code", "code": backup[0]})
		if got[200] != 1 || got[200]+got[401]+got[429] != 20 {
			t.Fatalf("statuses %v: want exactly one 200, the rest 401 or 429", got)
		}
	})

	t.Run("FailuresSpreadAcrossInstancesLockOnBoth", func(t *testing.T) {
		secret, _ := enrolled(t, a, b, "lockout@example.com")
		ua, ub := pending(t, a, "lockout@example.com"), pending(t, b, "lockout@example.com")
		right := totp.Code(secret, time.Now().Add(30*time.Second), totp.Default)
		wrong := "000000"
		if wrong == right {
			wrong = "111111"
		}
		for i := range 5 { // the default threshold
			u, base := ua, a
			if i%2 == 1 {
				u, base = ub, b
			}
			r := u.call(base, "POST", "/api/2fa/verify", map[string]string{"method": "totp", "code": wrong})
			if i < 4 {
				u.want(r, 401, "invalid_code")
			}
		}
		for _, c := range []struct {
			u    *member
			base string
		}{{ua, a}, {ub, b}} {
			r := c.u.want(c.u.call(c.base, "POST", "/api/2fa/verify", map[string]string{"method": "totp", "code": right}), 429, "locked")
			if r.Header.Get("Retry-After") == "" {
				t.Errorf("locked answer lacks Retry-After")
			}
		}
	})

	t.Run("KillingOneInstanceLeavesTheOtherServing", func(t *testing.T) {
		u := &member{t: t}
		u.want(u.call(a, "POST", "/api/register", map[string]string{"email": "survivor@example.com", "password": clusterPassword}), 201, "")
		procs[0].kill()
		if _, err := (&member{t: t}).try(a, "GET", "/healthz", nil); err == nil {
			t.Fatalf("instance A still answers after SIGKILL")
		}
		u.want(u.call(b, "GET", "/readyz", nil), 200, "")
		u.want(u.call(b, "GET", "/api/me", nil), 200, "")
		fresh := &member{t: t}
		fresh.want(fresh.call(b, "POST", "/api/login", map[string]string{"email": "survivor@example.com", "password": clusterPassword}), 200, "")
	})
}

// tcpProxy forwards a loopback port to target and can cut every connection
// and refuse new ones, as an unreachable database would.
type tcpProxy struct {
	addr, target string
	mu           sync.Mutex
	ln           net.Listener
	conns        map[net.Conn]bool
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{addr: ln.Addr().String(), target: target, conns: map[net.Conn]bool{}}
	p.serve(ln)
	t.Cleanup(p.down)
	return p
}

func (p *tcpProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c], p.conns[up] = true, true
			p.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
}

// down closes the listener and every open connection.
func (p *tcpProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]bool{}
}

// up listens again on the same address.
func (p *tcpProxy) up(t *testing.T) {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatalf("re-listen on %s: %v", p.addr, err)
	}
	p.serve(ln)
}

func TestDatabaseOutageOnPostgres(t *testing.T) {
	dbURL := pgtest.EmptyDatabase(t)
	pu, err := url.Parse(dbURL)
	if err != nil || pu.Host == "" {
		t.Fatalf("this test needs TWOFOLD_TEST_POSTGRES_URL as a postgres://host:port/ URL")
	}
	proxy := newTCPProxy(t, pu.Host)
	pu.Host = proxy.addr
	env := clusterEnv(t, pu.String())()
	env["TWOFOLD_LOG_LEVEL"] = "info"
	p := startProcess(t, env)

	u := &member{t: t}
	u.want(u.call(p.URL, "POST", "/api/register", map[string]string{"email": "outage@example.com", "password": clusterPassword}), 201, "")
	u.want(u.call(p.URL, "GET", "/readyz", nil), 200, "")

	proxy.down()
	// Each answer must come back (the client gives up after 20 s): 503, never 500 or a hang.
	u.want(u.call(p.URL, "GET", "/readyz", nil), 503, "unavailable")
	u.want(u.call(p.URL, "GET", "/api/me", nil), 503, "unavailable")
	other := &member{t: t}
	other.want(other.call(p.URL, "POST", "/api/login", map[string]string{"email": "outage@example.com", "password": clusterPassword}), 503, "unavailable")
	u.want(u.call(p.URL, "GET", "/healthz", nil), 200, "")

	proxy.up(t)
	// Recovery needs no restart: the pool reconnects on the next request.
	deadline := time.Now().Add(15 * time.Second)
	for {
		r := u.call(p.URL, "GET", "/readyz", nil)
		if r.Status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz still %d after the database came back", r.Status)
		}
		time.Sleep(100 * time.Millisecond) // waiting on a real pool's reconnect: no clock to inject
	}
	u.want(u.call(p.URL, "GET", "/api/me", nil), 200, "")
	other.want(other.call(p.URL, "POST", "/api/login", map[string]string{"email": "outage@example.com", "password": clusterPassword}), 200, "")
	if strings.Contains(p.logs.String(), `"level":"ERROR"`) {
		t.Errorf("the outage was logged as an internal error; want warnings only:\n%s", p.logs)
	}
}
