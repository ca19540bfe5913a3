//go:build unix

package main

import (
	"bufio"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twofold-auth/twofold/internal/totp"
)

// process is `twofold serve` running as a real child process.
type process struct {
	cmd  *exec.Cmd
	URL  string
	logs *syncBuffer
}

func startProcess(t *testing.T, bin string, env ...string) *process {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, logs: &syncBuffer{}}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.logs.Write(append(sc.Bytes(), '\n'))
			if a := listenAddr(sc.Text()); a != "" {
				select {
				case addr <- a:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	select {
	case a := <-addr:
		p.URL = "http://" + a
	case <-time.After(30 * time.Second):
		t.Fatalf("the server did not start; logs: %s", p.logs)
	}
	return p
}

// TestAlertQueuedAtKill9IsSentAfterRestart kills the server (SIGKILL)
// while an alert waits in the delivery queue, and restarts it.
func TestAlertQueuedAtKill9IsSentAfterRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build the binary: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "twofold")
	build := exec.Command(gobin, "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dir := t.TempDir()
	// First life: mail goes to a port where nothing listens, so the alert
	// stays queued (failed once, due again later).
	first := startProcess(t, bin, "TWOFOLD_DATA_DIR="+dir, "TWOFOLD_SMTP_URL=smtp://127.0.0.1:1")
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	res := post(t, c, first.URL+"/api/register", `{"email":"kill9@example.com","password":"kill9-password"}`)
	if res.StatusCode != 201 {
		t.Fatalf("register: got %d", res.StatusCode)
	}
	res, err = c.Post(first.URL+"/api/2fa/setup", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	var setup struct {
		ManualKey string `json:"manual_key"`
	}
	_ = json.NewDecoder(res.Body).Decode(&setup)
	res.Body.Close()
	secret, err := totp.DecodeSecret(setup.ManualKey)
	if err != nil {
		t.Fatalf("manual key: %v", err)
	}
	if res := post(t, c, first.URL+"/api/2fa/verify-setup", `{"token":"`+totp.Code(secret, time.Now(), totp.Default)+`"}`); res.StatusCode != 200 {
		t.Fatalf("verify-setup: got %d", res.StatusCode)
	}
	if err := first.cmd.Process.Kill(); err != nil { // SIGKILL: no shutdown code runs
		t.Fatal(err)
	}
	_ = first.cmd.Wait()

	db, err := sql.Open("sqlite", filepath.Join(dir, "twofold.db"))
	if err != nil {
		t.Fatal(err)
	}
	var queued int
	if err := db.QueryRow("SELECT COUNT(*) FROM deliveries WHERE failed_at = 0").Scan(&queued); err != nil || queued == 0 {
		t.Fatalf("queued deliveries after the kill: %d (%v), want the alert", queued, err)
	}
	// Let the retry wait and any lease of the dead process run out.
	if _, err := db.Exec("UPDATE deliveries SET next_at = 0, lease_until = 0"); err != nil {
		t.Fatal(err)
	}
	db.Close()

	// Second life: the dev outbox for mail.
	startProcess(t, bin, "TWOFOLD_DATA_DIR="+dir)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(filepath.Join(dir, "outbox.jsonl"))
		for _, line := range strings.Split(string(b), "\n") {
			var m struct{ Channel, To, Subject string }
			if json.Unmarshal([]byte(line), &m) == nil && m.Channel == "email" && m.To == "kill9@example.com" && strings.Contains(m.Subject, "authenticator app") {
				return
			}
		}
		time.Sleep(50 * time.Millisecond) // polling a real process: no clock to inject
	}
	t.Fatal("the alert queued before the kill was not sent after the restart")
}
