//go:build unix

package main

import (
	"database/sql"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twofold-auth/twofold/internal/totp"
)

// TestAlertQueuedAtKill9IsSentAfterRestart kills the server (SIGKILL)
// while an alert waits in the delivery queue, and restarts it.
func TestAlertQueuedAtKill9IsSentAfterRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	// First life: mail goes to a port where nothing listens, so the alert
	// stays queued (failed once, due again later).
	first := startProcess(t, map[string]string{"TWOFOLD_DATA_DIR": dir, "TWOFOLD_SMTP_URL": "smtp://127.0.0.1:1"})
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	res := post(t, c, first.URL+"/api/register", `{"email":"kill9@example.com","password":"kill9-password"}`)
	if res.StatusCode != 201 {
		t.Fatalf("register: got %d", res.StatusCode)
	}
	res, err := c.Post(first.URL+"/api/2fa/setup", "application/json", strings.NewReader(`{}`))
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
	first.kill() // SIGKILL: no shutdown code runs

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
	startProcess(t, map[string]string{"TWOFOLD_DATA_DIR": dir})
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
