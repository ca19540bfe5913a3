package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twofold-auth/twofold/internal/seal"
	"github.com/twofold-auth/twofold/internal/totp"
)

// syncBuffer is a goroutine-safe writer.
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

// instance is one `twofold serve` started through run.
type instance struct {
	URL    string
	Logs   *syncBuffer
	cancel context.CancelFunc
	done   chan error
	// Err is what run returned, once stopped.
	Err error
}

// start runs `twofold serve` on a free port with env and extra args, and
// waits until /healthz answers.
func start(t *testing.T, env map[string]string, args ...string) *instance {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	done := make(chan error, 1)
	getenv := func(k string) string { return env[k] }
	go func() {
		done <- run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...), getenv, &syncBuffer{}, logs)
	}()
	inst := &instance{Logs: logs, cancel: cancel, done: done}
	t.Cleanup(inst.stop)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			t.Fatalf("serve exited early: %v\nlogs: %s", err, logs)
		default:
		}
		if addr := listenAddr(logs.String()); addr != "" {
			inst.URL = "http://" + addr
			if res, err := http.Get(inst.URL + "/healthz"); err == nil {
				res.Body.Close()
				if res.StatusCode == 200 {
					return inst
				}
			}
		}
		time.Sleep(10 * time.Millisecond) // polling a real process: no clock to inject
	}
	t.Fatalf("server did not become healthy; logs: %s", logs)
	return nil
}

func (i *instance) stop() {
	if i.cancel == nil {
		return
	}
	i.cancel()
	i.Err = <-i.done
	i.cancel = nil
}

// listenAddr finds the address in the "listening" log line.
func listenAddr(logs string) string {
	sc := bufio.NewScanner(strings.NewReader(logs))
	for sc.Scan() {
		var line struct{ Msg, Addr string }
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
			return line.Addr
		}
	}
	return ""
}

func post(t *testing.T, c *http.Client, url, body string) *http.Response {
	t.Helper()
	res, err := c.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	res.Body.Close()
	return res
}

func TestServeKeepsDataAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"TWOFOLD_DATA_DIR": dir}
	a := start(t, env)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	if res := post(t, c, a.URL+"/api/register", `{"email":"restart@example.com","password":"restart-password"}`); res.StatusCode != 201 {
		t.Fatalf("register: got %d, want 201", res.StatusCode)
	}
	a.stop()
	if a.Err != nil {
		t.Fatalf("serve returned %v after a clean stop", a.Err)
	}

	b := start(t, env)
	if res := post(t, &http.Client{}, b.URL+"/api/login", `{"email":"restart@example.com","password":"restart-password"}`); res.StatusCode != 200 {
		t.Fatalf("login after restart: got %d, want 200", res.StatusCode)
	}
	for _, f := range []string{"twofold.db", "encryption.key"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("data dir lacks %s: %v", f, err)
		}
	}
	for _, f := range []string{"encryption.key", "twofold.db", "twofold.db-wal"} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Errorf("%s: %v", f, err)
		} else if st.Mode().Perm() != 0o600 {
			t.Errorf("%s: got mode %v, want 0600", f, st.Mode().Perm())
		}
	}
	if !strings.Contains(a.Logs.String(), "generated a new encryption key") {
		t.Errorf("first start did not log the key generation")
	}
	if strings.Contains(a.Logs.String()+b.Logs.String(), "restart-password") {
		t.Errorf("the log contains the password")
	}
}

func TestBadSettingExitsTwoNamingIt(t *testing.T) {
	cases := []struct {
		env  map[string]string
		args []string
		name string
	}{
		{map[string]string{"TWOFOLD_LOCKOUT_THRESHOLD": "zero"}, nil, "TWOFOLD_LOCKOUT_THRESHOLD"},
		{map[string]string{"TWOFOLD_TOTP_SKEW": "-1"}, nil, "TWOFOLD_TOTP_SKEW"},
		{map[string]string{"TWOFOLD_ENCRYPTION_KEY": "c2hvcnQ="}, nil, "TWOFOLD_ENCRYPTION_KEY"},
		{map[string]string{"TWOFOLD_VERIFY_RATE_LIMIT": "5/d"}, nil, "TWOFOLD_VERIFY_RATE_LIMIT"},
		{map[string]string{"TWOFOLD_REGISTRATION": "maybe"}, nil, "TWOFOLD_REGISTRATION"},
		{map[string]string{"TWOFOLD_PUBLIC_URL": "ftp://x"}, nil, "TWOFOLD_PUBLIC_URL"},
		{map[string]string{"TWOFOLD_LOCKOUT_DURATION": "forever"}, nil, "TWOFOLD_LOCKOUT_DURATION"},
		{map[string]string{"TWOFOLD_TRUSTED_DEVICE_TTL": "-1h"}, nil, "TWOFOLD_TRUSTED_DEVICE_TTL"},
		{map[string]string{"TWOFOLD_DATABASE_URL": "mysql://x"}, nil, "TWOFOLD_DATABASE_URL"},
		{map[string]string{"TWOFOLD_SMTP_URL": "http://mail"}, nil, "TWOFOLD_SMTP_URL"},
		{map[string]string{"TWOFOLD_WEBHOOK_URL": "https://hooks.example.com/x"}, nil, "TWOFOLD_WEBHOOK_SECRET"},
		{map[string]string{"TWOFOLD_SMS_PROVIDER": "twilio"}, nil, "TWOFOLD_SMS_PROVIDER"},
		{nil, []string{"--auth-rate-limit", "lots"}, "TWOFOLD_AUTH_RATE_LIMIT"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"TWOFOLD_DATA_DIR": t.TempDir()}
			for k, v := range tc.env {
				env[k] = v
			}
			stderr := &syncBuffer{}
			err := run(context.Background(), append([]string{"serve", "--addr", "127.0.0.1:0"}, tc.args...), func(k string) string { return env[k] }, &syncBuffer{}, stderr)
			code := exitCode(err, stderr)
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			if code != 2 || len(lines) != 1 || !strings.Contains(lines[0], tc.name) {
				t.Fatalf("got exit %d and %q, want exit 2 and one line naming %s", code, stderr, tc.name)
			}
		})
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"frobnicate"}} {
		stderr := &syncBuffer{}
		if code := exitCode(run(context.Background(), args, func(string) string { return "" }, &syncBuffer{}, stderr), stderr); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	stdout := &syncBuffer{}
	if code := exitCode(run(context.Background(), []string{"help"}, func(string) string { return "" }, stdout, &syncBuffer{}), &syncBuffer{}); code != 0 || !strings.Contains(stdout.String(), "twofold serve") {
		t.Errorf("help: exit %d, output %q", code, stdout)
	}
}

func TestMigrate(t *testing.T) {
	dir := t.TempDir()
	stdout := &syncBuffer{}
	err := run(context.Background(), []string{"migrate", "--data-dir", dir}, func(string) string { return "" }, stdout, &syncBuffer{})
	if err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if !strings.Contains(stdout.String(), "schema version") {
		t.Errorf("got %q, want the schema version", stdout)
	}
	if _, err := os.Stat(filepath.Join(dir, "twofold.db")); err != nil {
		t.Errorf("no database after migrate: %v", err)
	}
}

func TestKeysRotateWhileServing(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"TWOFOLD_DATA_DIR": dir}
	srv := start(t, env)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	post(t, c, srv.URL+"/api/register", `{"email":"keys@example.com","password":"keys-password"}`)
	res, err := c.Post(srv.URL+"/api/2fa/setup", "application/json", nil)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("setup: %v %v", err, res)
	}
	var setup struct {
		ManualKey string `json:"manual_key"`
	}
	json.NewDecoder(res.Body).Decode(&setup)
	res.Body.Close()
	before, _ := os.ReadFile(filepath.Join(dir, "encryption.key"))

	out := &syncBuffer{}
	if err := run(context.Background(), []string{"keys", "rotate"}, func(k string) string { return env[k] }, out, &syncBuffer{}); err != nil {
		t.Fatalf("keys rotate: %v", err)
	}
	if !strings.Contains(out.String(), "0 left under older keys") {
		t.Errorf("rotate output %q does not report completion", out)
	}
	after, _ := os.ReadFile(filepath.Join(dir, "encryption.key"))
	lines, old := keyLines(after), keyLines(before)
	if len(old) != 1 || len(lines) != 2 || lines[1] != old[0] {
		t.Fatalf("key file should hold the new key first and the old one second")
	}

	// The running server meets a value sealed under a key it has not loaded,
	// reloads the key file, and confirms the authenticator.
	secret, err := totp.DecodeSecret(setup.ManualKey)
	if err != nil {
		t.Fatal(err)
	}
	body := `{"token":"` + totp.Code(secret, time.Now(), totp.Default) + `"}`
	if res := post(t, c, srv.URL+"/api/2fa/verify-setup", body); res.StatusCode != 200 {
		t.Fatalf("verify-setup after rotation: got %d, want 200", res.StatusCode)
	}
}

func TestKeysGenerate(t *testing.T) {
	out := &syncBuffer{}
	if err := run(context.Background(), []string{"keys", "generate"}, func(string) string { return "" }, out, &syncBuffer{}); err != nil {
		t.Fatal(err)
	}
	if _, err := seal.ParseKey(strings.TrimSpace(out.String())); err != nil {
		t.Errorf("generated key does not parse: %v", err)
	}
}

// keyLines returns the key lines of a key file (not comments).
func keyLines(b []byte) []string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

func TestKeysRotateRefusesAConcurrentRotation(t *testing.T) {
	dir := t.TempDir()
	unlock, err := lockKeyFile(filepath.Join(dir, "encryption.key"))
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	stderr := &syncBuffer{}
	err = run(context.Background(), []string{"keys", "rotate", "--data-dir", dir}, func(string) string { return "" }, &syncBuffer{}, stderr)
	if err == nil || !strings.Contains(err.Error(), "another key rotation") {
		t.Fatalf("got %v, want a refusal while another rotation holds the lock", err)
	}
}
