package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twofold-auth/twofold/internal/pgtest"
	"github.com/twofold-auth/twofold/internal/seal"
	"github.com/twofold-auth/twofold/internal/totp"
)

// cliResult is what a run of the binary printed and how it exited.
type cliResult struct {
	Stdout, Stderr string
	Code           int
}

// cli runs the real binary with env (and nothing else of this process's
// TWOFOLD_ settings), stdin as its standard input.
func cli(t *testing.T, env map[string]string, stdin string, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run twofold %v: %v", args, err)
	}
	return cliResult{stdout.String(), stderr.String(), code}
}

func (r cliResult) want(t *testing.T, code int, args string) cliResult {
	t.Helper()
	if r.Code != code {
		t.Fatalf("twofold %s: exit %d, want %d\nstdout: %s\nstderr: %s", args, r.Code, code, r.Stdout, r.Stderr)
	}
	return r
}

// api calls the server as a browser would and decodes the JSON answer.
func api(t *testing.T, c *http.Client, method, url string, body any) (int, map[string]any) {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

func browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 30 * time.Second}
}

// login signs email in on a new browser and returns it and the status.
func login(t *testing.T, base, email, password string) (*http.Client, string) {
	t.Helper()
	c := browser()
	code, body := api(t, c, "POST", base+"/api/login", map[string]string{"email": email, "password": password})
	if code != 200 {
		t.Fatalf("login %s: got %d %v, want 200", email, code, body["error"])
	}
	status, _ := body["status"].(string)
	return c, status
}

func TestCLIWhileServingSQLite(t *testing.T) {
	env := map[string]string{
		"TWOFOLD_DATA_DIR":          t.TempDir(),
		"TWOFOLD_LOCKOUT_THRESHOLD": "2",
		"TWOFOLD_VERIFY_RATE_LIMIT": "0",
		"TWOFOLD_AUTH_RATE_LIMIT":   "0",
	}
	srv := start(t, env)
	base := srv.URL
	const cliPW = "typed-into-stdin-only"

	t.Run("UserAddReadsThePasswordFromStdin", func(t *testing.T) {
		r := cli(t, env, cliPW+"\n", "user", "add", "cli@example.com").want(t, 0, "user add")
		if !strings.Contains(r.Stdout, "cli@example.com") {
			t.Errorf("user add output %q does not name the user", r.Stdout)
		}
		if strings.Contains(r.Stdout+r.Stderr, cliPW) {
			t.Errorf("user add printed the password")
		}
		if _, status := login(t, base, "cli@example.com", cliPW); status != "authenticated" {
			t.Errorf("login of the CLI-made user: got %q, want authenticated", status)
		}
		r = cli(t, env, cliPW+"\n", "user", "add", "CLI@example.com").want(t, 1, "user add (taken)")
		if !strings.Contains(r.Stderr, "email_taken") {
			t.Errorf("taken email: stderr %q lacks email_taken", r.Stderr)
		}
		cli(t, env, "", "user", "add", "empty@example.com").want(t, 1, "user add (no password)")
		cli(t, env, "short\n", "user", "add", "short@example.com").want(t, 1, "user add (short password)")
	})

	// A user with an authenticator app, signed up through the server.
	const email, userPW = "ada@example.com", "ada's long password"
	c := browser()
	if code, _ := api(t, c, "POST", base+"/api/register", map[string]string{"email": email, "password": userPW}); code != 201 {
		t.Fatalf("register: got %d", code)
	}
	_, setup := api(t, c, "POST", base+"/api/2fa/setup", nil)
	secret, err := totp.DecodeSecret(fmt.Sprint(setup["manual_key"]))
	if err != nil {
		t.Fatalf("manual_key: %v", err)
	}
	if code, _ := api(t, c, "POST", base+"/api/2fa/verify-setup", map[string]string{"token": totp.Code(secret, time.Now(), totp.Default)}); code != 200 {
		t.Fatalf("verify-setup: got %d", code)
	}
	// The next step's code: the current one was used by the setup (skew 1 accepts it).
	next := func() string { return totp.Code(secret, time.Now().Add(30*time.Second), totp.Default) }

	t.Run("UserListShowsUsersAndFactors", func(t *testing.T) {
		r := cli(t, env, "", "user", "list").want(t, 0, "user list")
		for _, want := range []string{"cli@example.com", email, "totp:1 backup_codes:10"} {
			if !strings.Contains(r.Stdout, want) {
				t.Errorf("user list output lacks %q:\n%s", want, r.Stdout)
			}
		}
		r = cli(t, env, "", "user", "list", "--email", "cli@example.com").want(t, 0, "user list --email")
		if strings.Contains(r.Stdout, email) || !strings.Contains(r.Stdout, "cli@example.com") {
			t.Errorf("user list --email output:\n%s", r.Stdout)
		}
	})

	t.Run("UnlockLetsTheRightCodeThroughAtOnce", func(t *testing.T) {
		pending, status := login(t, base, email, userPW)
		if status != "2fa_required" {
			t.Fatalf("login: got %q, want 2fa_required", status)
		}
		wrong := "000000"
		if next() == wrong {
			wrong = "111111"
		}
		for range 2 {
			if code, _ := api(t, pending, "POST", base+"/api/2fa/verify", map[string]string{"method": "totp", "code": wrong}); code != 401 {
				t.Fatalf("wrong code: got %d, want 401", code)
			}
		}
		if code, _ := api(t, pending, "POST", base+"/api/2fa/verify", map[string]string{"method": "totp", "code": next()}); code != 429 {
			t.Fatalf("right code while locked: got %d, want 429", code)
		}
		r := cli(t, env, "", "user", "list", "--email", email).want(t, 0, "user list")
		if !strings.Contains(r.Stdout, " 2 ") {
			t.Errorf("user list does not show the 2 failures:\n%s", r.Stdout)
		}
		cli(t, env, "", "user", "unlock", email).want(t, 0, "user unlock")
		if code, body := api(t, pending, "POST", base+"/api/2fa/verify", map[string]string{"method": "totp", "code": next()}); code != 200 {
			t.Fatalf("right code after unlock: got %d %v, want 200", code, body["error"])
		}
	})

	t.Run("EventsFiltersByUserTypeAndLimit", func(t *testing.T) {
		r := cli(t, env, "", "events", "--user", email, "--type", "admin.unlocked").want(t, 0, "events")
		if lines := strings.Split(strings.TrimSpace(r.Stdout), "\n"); len(lines) != 2 || !strings.Contains(lines[1], "admin.unlocked") {
			t.Errorf("events --type admin.unlocked: got\n%s\nwant a header and one event", r.Stdout)
		}
		r = cli(t, env, "", "events", "--user", email, "--limit", "3", "--json").want(t, 0, "events --json")
		lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
		if len(lines) != 3 {
			t.Fatalf("events --limit 3 --json: got %d lines, want 3", len(lines))
		}
		for _, l := range lines {
			var ev struct {
				Type   string `json:"type"`
				UserID string `json:"user_id"`
			}
			if err := json.Unmarshal([]byte(l), &ev); err != nil || ev.Type == "" || ev.UserID == "" {
				t.Errorf("events --json line is not an event: %q", l)
			}
		}
		cli(t, env, "", "events", "--user", "nobody@example.com").want(t, 1, "events --user unknown")
	})

	t.Run("ResetLetsThePasswordAloneSignIn", func(t *testing.T) {
		cli(t, env, "", "user", "reset-2fa", email).want(t, 0, "user reset-2fa")
		if _, status := login(t, base, email, userPW); status != "authenticated" {
			t.Errorf("login after reset: got %q, want authenticated", status)
		}
		r := cli(t, env, "", "events", "--user", email, "--type", "admin.reset_2fa").want(t, 0, "events")
		if !strings.Contains(r.Stdout, "admin.reset_2fa") {
			t.Errorf("no admin.reset_2fa event:\n%s", r.Stdout)
		}
		cli(t, env, "", "user", "reset-2fa", "nobody@example.com").want(t, 1, "reset-2fa unknown")
	})

	t.Run("KeysRotateWhileServing", func(t *testing.T) {
		r := cli(t, env, "", "keys", "rotate").want(t, 0, "keys rotate")
		if !strings.Contains(r.Stdout, "0 left under older keys") {
			t.Errorf("keys rotate output: %q", r.Stdout)
		}
	})
}

func TestCLIUsageAndExitCodes(t *testing.T) {
	env := map[string]string{"TWOFOLD_DATA_DIR": t.TempDir()}
	for _, args := range [][]string{
		{"user", "--help"}, {"user", "add", "--help"}, {"events", "--help"}, {"help"},
	} {
		r := cli(t, env, "", args...).want(t, 0, strings.Join(args, " "))
		if !strings.Contains(r.Stdout, "Usage") && !strings.Contains(r.Stdout, "twofold user") {
			t.Errorf("twofold %v: no usage on stdout: %q", args, r.Stdout)
		}
	}
	for _, args := range [][]string{
		{"user"}, {"user", "frobnicate"}, {"user", "add"}, {"user", "add", "a@example.com", "b@example.com"},
		{"user", "unlock"}, {"user", "list", "extra"}, {"events", "--limit", "0"}, {"events", "--limit", "x"},
		{"events", "--bogus"}, {"user", "list", "--lockout-threshold", "zero"},
	} {
		r := cli(t, env, "", args...).want(t, 2, strings.Join(args, " "))
		if strings.TrimSpace(r.Stderr) == "" {
			t.Errorf("twofold %v: nothing on stderr", args)
		}
	}
	cli(t, env, "", "user", "unlock", "nobody@example.com").want(t, 1, "user unlock unknown")
}

func TestCLIWhileServingPostgres(t *testing.T) {
	dbURL := postgresDatabase(t)
	k, err := seal.NewKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"TWOFOLD_DATA_DIR":       t.TempDir(),
		"TWOFOLD_DATABASE_URL":   dbURL,
		"TWOFOLD_ENCRYPTION_KEY": k.Encode(),
	}
	srv := start(t, env)
	const pgPW = "postgres user password"
	cli(t, env, pgPW+"\n", "user", "add", "pg@example.com").want(t, 0, "user add")
	if _, status := login(t, srv.URL, "pg@example.com", pgPW); status != "authenticated" {
		t.Errorf("login of the CLI-made user: got %q, want authenticated", status)
	}
	c := browser()
	if code, _ := api(t, c, "POST", srv.URL+"/api/register", map[string]string{"email": "web@example.com", "password": pgPW}); code != 201 {
		t.Fatalf("register: got %d", code)
	}
	r := cli(t, env, "", "user", "list").want(t, 0, "user list")
	if !strings.Contains(r.Stdout, "pg@example.com") || !strings.Contains(r.Stdout, "web@example.com") {
		t.Errorf("user list:\n%s", r.Stdout)
	}
	cli(t, env, "", "user", "unlock", "web@example.com").want(t, 0, "user unlock")
	cli(t, env, "", "user", "reset-2fa", "web@example.com").want(t, 0, "user reset-2fa")
	r = cli(t, env, "", "events", "--type", "user.registered").want(t, 0, "events")
	if n := strings.Count(r.Stdout, "user.registered"); n != 2 {
		t.Errorf("events --type user.registered: got %d, want 2:\n%s", n, r.Stdout)
	}
	r = cli(t, env, "", "events", "--user", "web@example.com").want(t, 0, "events --user")
	for _, want := range []string{"admin.unlocked", "admin.reset_2fa", "user.registered"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("events of web@example.com lack %s:\n%s", want, r.Stdout)
		}
	}
}

// postgresDatabase creates an empty database on the test server, dropped at
// the end, and returns its URL; it skips (fails under CI=true) when
// PostgreSQL does not answer.
func postgresDatabase(t *testing.T) string { return pgtest.EmptyDatabase(t) }

func TestClosedRegistrationAndAdminTokenFromSettings(t *testing.T) {
	const token = "a-long-admin-token-for-the-test-0123456789"
	srv := start(t, map[string]string{
		"TWOFOLD_DATA_DIR":     t.TempDir(),
		"TWOFOLD_REGISTRATION": "closed",
		"TWOFOLD_ADMIN_TOKEN":  token,
	})
	body := map[string]string{"email": "ada@example.com", "password": "ada's long password"}
	code, res := api(t, browser(), "POST", srv.URL+"/api/register", body)
	if e, _ := res["error"].(map[string]any); code != 403 || e["code"] != "registration_closed" {
		t.Fatalf("register while closed: got %d %v, want 403 registration_closed", code, res)
	}
	admin := func(tok string) (int, map[string]any) {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", srv.URL+"/api/admin/users", bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out map[string]any
		json.NewDecoder(res.Body).Decode(&out)
		return res.StatusCode, out
	}
	if code, _ := admin(token + "x"); code != 401 {
		t.Errorf("wrong admin token: got %d, want 401", code)
	}
	if code, res := admin(token); code != 201 {
		t.Fatalf("admin create user (curl-like, no Origin): got %d %v, want 201", code, res)
	}
	if _, status := login(t, srv.URL, body["email"], body["password"]); status != "authenticated" {
		t.Errorf("login of the admin-made user: got %q", status)
	}
}

func TestCLIRefusesAWrongKeyOrDataDir(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"TWOFOLD_DATA_DIR": dir}
	start(t, env)
	cli(t, env, "a cli test password\n", "user", "add", "ada@example.com").want(t, 0, "user add")

	t.Run("WrongEncryptionKey", func(t *testing.T) {
		k, err := seal.NewKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		wrong := map[string]string{"TWOFOLD_DATA_DIR": dir, "TWOFOLD_ENCRYPTION_KEY": k.Encode()}
		for _, args := range [][]string{{"user", "reset-2fa", "ada@example.com"}, {"user", "list"}, {"events"}} {
			r := cli(t, wrong, "", args...).want(t, 1, strings.Join(args, " ")+" with another key")
			if !strings.Contains(r.Stderr, "encryption key") {
				t.Errorf("twofold %v with another key: stderr does not name the key: %q", args, r.Stderr)
			}
		}
		r := cli(t, env, "", "events", "--user", "ada@example.com").want(t, 0, "events")
		if strings.Contains(r.Stdout, "admin.reset_2fa") {
			t.Errorf("reset-2fa acted although its key was wrong")
		}
	})

	t.Run("WrongDataDir", func(t *testing.T) {
		nowhere := filepath.Join(t.TempDir(), "typo")
		bad := map[string]string{"TWOFOLD_DATA_DIR": nowhere}
		for _, args := range [][]string{{"user", "list"}, {"user", "add", "x@example.com"}, {"user", "reset-2fa", "ada@example.com"}, {"events"}} {
			r := cli(t, bad, "a cli test password\n", args...).want(t, 1, strings.Join(args, " ")+" in a wrong data dir")
			if !strings.Contains(r.Stderr, "no database at") {
				t.Errorf("twofold %v in a wrong data dir: stderr %q lacks \"no database at\"", args, r.Stderr)
			}
		}
		if _, err := os.Stat(nowhere); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("the CLI created the wrong data dir (stat: %v)", err)
		}
	})

	t.Run("NoKeyFileIsNotCreated", func(t *testing.T) {
		fresh := map[string]string{"TWOFOLD_DATA_DIR": t.TempDir()}
		cli(t, fresh, "", "migrate").want(t, 0, "migrate")
		for _, args := range [][]string{{"user", "list"}, {"events"}} {
			r := cli(t, fresh, "", args...).want(t, 1, strings.Join(args, " ")+" without a key")
			if !strings.Contains(r.Stderr, "no encryption key") {
				t.Errorf("twofold %v without a key: stderr %q lacks \"no encryption key\"", args, r.Stderr)
			}
		}
		if _, err := os.Stat(filepath.Join(fresh["TWOFOLD_DATA_DIR"], "encryption.key")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("a read-only command wrote a key file (stat: %v)", err)
		}
	})
}
