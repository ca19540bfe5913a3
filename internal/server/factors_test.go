package server_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twofold-auth/twofold/internal/auth"
	"github.com/twofold-auth/twofold/internal/server"
	"github.com/twofold-auth/twofold/internal/totp"
)

// enrolled is a user with an authenticator app.
type enrolled struct {
	c      *client
	email  string
	secret []byte
	codes  []string
	// totpID is the authenticator's id.
	totpID string
}

// code is the authenticator's code at the env's current time.
func (e *env) code(secret []byte) string {
	return totp.Code(secret, e.Clock.Now(), totp.Default)
}

// enroll registers email and adds an authenticator app, returning its secret
// and backup codes. The clock moves on a step so the confirmation code's
// step is in the past.
func (e *env) enroll(email string) enrolled {
	e.t.Helper()
	c := e.register(email, pw)
	setup := c.do("POST", "/api/2fa/setup", map[string]string{"name": "Phone"}).want(e.t, 200, "")
	secret, err := totp.DecodeSecret(setup.str("manual_key"))
	if err != nil {
		e.t.Fatalf("manual_key does not decode: %v", err)
	}
	r := c.do("POST", "/api/2fa/verify-setup", map[string]string{"token": e.code(secret)}).want(e.t, 200, "")
	var codes []string
	for _, v := range r.Body["backup_codes"].([]any) {
		codes = append(codes, v.(string))
	}
	e.Clock.Advance(30 * time.Second)
	return enrolled{c: c, email: email, secret: secret, codes: codes, totpID: r.str("method", "id")}
}

// pendingLogin logs in with the password and expects 2fa_required.
func (e *env) pendingLogin(email string) *client {
	e.t.Helper()
	c := e.client()
	r := c.do("POST", "/api/login", map[string]string{"email": email, "password": pw}).want(e.t, 200, "")
	if r.str("status") != "2fa_required" {
		e.t.Fatalf("login: got %s, want 2fa_required", r.Raw)
	}
	return c
}

func (c *client) verify(method, code string) *response {
	return c.do("POST", "/api/2fa/verify", map[string]any{"method": method, "code": code})
}

// outbox returns the dev outbox's messages, once the delivery worker has
// sent what is due.
func (e *env) outbox() []map[string]string {
	if _, err := e.Auth.DeliverDue(context.Background()); err != nil {
		e.t.Fatalf("deliver due messages: %v", err)
	}
	f, err := os.Open(e.Outbox)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []map[string]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]string
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			e.t.Fatalf("outbox line is not JSON: %v", err)
		}
		out = append(out, m)
	}
	return out
}

// alerted reports whether an email to `to` has a subject containing s.
func (e *env) alerted(to, s string) bool {
	for _, m := range e.outbox() {
		if m["channel"] == "email" && m["to"] == to && strings.Contains(m["subject"], s) {
			return true
		}
	}
	return false
}

// eventTypes lists the user's event types, newest first.
func (c *client) eventTypes(t *testing.T) []string {
	t.Helper()
	r := c.do("GET", "/api/events?limit=200", nil).want(t, 200, "")
	var types []string
	for _, ev := range r.Body["events"].([]any) {
		types = append(types, ev.(map[string]any)["type"].(string))
	}
	return types
}

func has(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestTOTPSetup(t *testing.T) {
	e := newEnv(t, func(o *options) { o.auth.TOTPSkew = 1 })
	c := e.register("alice@example.com", pw)

	var secret []byte
	t.Run("ReturnsURIQRCodeAndManualKey", func(t *testing.T) {
		r := c.do("POST", "/api/2fa/setup", nil).want(t, 200, "")
		uri := r.str("otpauth_uri")
		re := regexp.MustCompile(`^otpauth://totp/twofold:alice@example\.com\?secret=([A-Z2-7]{32})&issuer=twofold&algorithm=SHA1&digits=6&period=30$`)
		m := re.FindStringSubmatch(uri)
		if m == nil {
			t.Fatalf("otpauth_uri %q does not match %s", uri, re)
		}
		if r.str("manual_key") != m[1] {
			t.Errorf("manual_key differs from the URI's secret")
		}
		if r.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("secret-carrying response is cacheable")
		}
		if r.str("message") == "" {
			t.Errorf("no message")
		}
		qr := r.str("qr_code")
		if !strings.HasPrefix(qr, "data:image/png;base64,") {
			t.Fatalf("qr_code is not a PNG data URI")
		}
		png, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(qr, "data:image/png;base64,"))
		if err != nil {
			t.Fatalf("qr_code base64: %v", err)
		}
		if got := zbarDecode(t, png); got != "" && got != uri {
			t.Errorf("QR code decodes to something other than otpauth_uri")
		}
		secret, _ = totp.DecodeSecret(m[1])
		if len(secret) != 20 {
			t.Errorf("secret has %d bytes, want 20 (160 bits)", len(secret))
		}
	})

	t.Run("WrongCodeIs400InvalidCode", func(t *testing.T) {
		wrong := "000000"
		if e.code(secret) == wrong {
			wrong = "111111"
		}
		c.do("POST", "/api/2fa/verify-setup", map[string]string{"token": wrong}).want(t, 400, "invalid_code")
	})

	t.Run("NewSetupReplacesPending", func(t *testing.T) {
		r := c.do("POST", "/api/2fa/setup", map[string]string{"name": "Work phone"}).want(t, 200, "")
		newer, _ := totp.DecodeSecret(r.str("manual_key"))
		if e.code(newer) != e.code(secret) {
			c.do("POST", "/api/2fa/verify-setup", map[string]string{"token": e.code(secret)}).want(t, 400, "invalid_code")
		}
		secret = newer
	})

	var codes []any
	t.Run("ConfirmEnablesAndReturnsTenBackupCodes", func(t *testing.T) {
		r := c.do("POST", "/api/2fa/verify-setup", map[string]string{"token": e.code(secret)}).want(t, 200, "")
		if r.Body["success"] != true || r.str("method", "name") != "Work phone" {
			t.Errorf("got %s, want success and the method named Work phone", r.Raw)
		}
		codes, _ = r.Body["backup_codes"].([]any)
		if len(codes) != 10 {
			t.Fatalf("got %d backup codes, want 10", len(codes))
		}
		seen := map[string]bool{}
		for _, v := range codes {
			s := v.(string)
			if !regexp.MustCompile(`^[0-9a-z]{5}-[0-9a-z]{5}$`).MatchString(s) || seen[s] {
				t.Errorf("backup code %d has the wrong form or repeats", len(seen))
			}
			seen[s] = true
		}
		me := c.do("GET", "/api/me", nil).want(t, 200, "")
		if me.Body["user"].(map[string]any)["two_factor_enabled"] != true {
			t.Errorf("two_factor_enabled is not true")
		}
		ms := me.Body["methods"].(map[string]any)
		if n := len(ms["totp"].([]any)); n != 1 {
			t.Errorf("got %d totp methods, want 1", n)
		}
		if ms["backup_codes_remaining"] != float64(10) {
			t.Errorf("backup_codes_remaining got %v, want 10", ms["backup_codes_remaining"])
		}
		if !e.alerted("alice@example.com", "authenticator app") {
			t.Errorf("no alert email for the new authenticator app")
		}
	})

	t.Run("NoPendingSetupIsInvalidRequest", func(t *testing.T) {
		c.do("POST", "/api/2fa/verify-setup", map[string]string{"token": e.code(secret)}).want(t, 400, "invalid_request")
	})

	t.Run("ConfirmationCodeCannotLogIn", func(t *testing.T) {
		p := e.pendingLogin("alice@example.com")
		p.verify("totp", e.code(secret)).want(t, 401, "invalid_code")
	})

	t.Run("SecondAuthenticatorGetsNoNewBackupCodes", func(t *testing.T) {
		r := c.do("POST", "/api/2fa/setup", map[string]string{"name": "Tablet"}).want(t, 200, "")
		s2, _ := totp.DecodeSecret(r.str("manual_key"))
		v := c.do("POST", "/api/2fa/verify-setup", map[string]string{"token": e.code(s2)}).want(t, 200, "")
		if _, ok := v.Body["backup_codes"]; ok {
			t.Errorf("a second authenticator returned backup codes")
		}
		ms := c.do("GET", "/api/me", nil).Body["methods"].(map[string]any)
		if n := len(ms["totp"].([]any)); n != 2 {
			t.Errorf("got %d totp methods, want 2", n)
		}
	})

	t.Run("NeedsAuthenticatedSession", func(t *testing.T) {
		e.client().do("POST", "/api/2fa/setup", nil).want(t, 401, "unauthenticated")
		p := e.pendingLogin("alice@example.com")
		p.do("POST", "/api/2fa/setup", nil).want(t, 401, "unauthenticated")
		p.do("GET", "/api/me", nil).want(t, 401, "unauthenticated")
	})

	t.Run("StaleSessionCannotAddAnAuthenticator", func(t *testing.T) {
		e.Clock.Advance(11 * time.Minute)
		c.do("GET", "/api/me", nil).want(t, 200, "")
		c.do("POST", "/api/2fa/setup", nil).want(t, 403, "reauthentication_required")
	})

	t.Run("IssuerWithSpaceIsPercentEncoded", func(t *testing.T) {
		e2 := newEnv(t, func(o *options) { o.auth.Issuer = "Acme Corp" })
		r := e2.register("ab+c@example.com", pw).do("POST", "/api/2fa/setup", nil).want(t, 200, "")
		uri := r.str("otpauth_uri")
		if !strings.HasPrefix(uri, "otpauth://totp/Acme%20Corp:ab%2Bc@example.com?secret=") || !strings.Contains(uri, "&issuer=Acme%20Corp&") || strings.Contains(uri, "+") {
			t.Errorf("got %q, want spaces as %%20 and no '+'", uri)
		}
	})
}

// zbarDecode decodes a QR PNG with zbarimg, or returns "" (skipping outside CI) when it is absent.
func zbarDecode(t *testing.T, png []byte) string {
	t.Helper()
	path, err := exec.LookPath("zbarimg")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("zbarimg is required in CI (apt-get install zbar-tools)")
		}
		t.Log("zbarimg not installed: apt-get install zbar-tools; QR decode not checked")
		return ""
	}
	f := filepath.Join(t.TempDir(), "qr.png")
	if err := os.WriteFile(f, png, 0o600); err != nil {
		t.Fatal(err)
	}
	// QR codes only: with every symbology on, zbarimg also reports a
	// Codabar it imagines in about one QR code in 2,000.
	out, err := exec.Command(path, "--raw", "-q", "-Sdisable", "-Sqrcode.enable", f).Output()
	if err != nil {
		t.Fatalf("zbarimg: %v", err)
	}
	return strings.TrimRight(string(out), "\n")
}

func TestSecondFactorLogin(t *testing.T) {
	e := newEnv(t, func(o *options) { o.auth.TOTPSkew = 1 })
	u := e.enroll("bob@example.com")

	t.Run("LoginAsksForSecondFactorWithMethods", func(t *testing.T) {
		r := e.client().do("POST", "/api/login", map[string]string{"email": "bob@example.com", "password": pw}).want(t, 200, "")
		if r.str("status") != "2fa_required" {
			t.Fatalf("got %s, want 2fa_required", r.Raw)
		}
		var methods []string
		for _, m := range r.Body["methods"].([]any) {
			methods = append(methods, m.(string))
		}
		if strings.Join(methods, ",") != "totp,backup_code" {
			t.Errorf("methods got %v, want [totp backup_code]", methods)
		}
		if _, ok := r.Body["user"]; ok {
			t.Errorf("2fa_required answer reveals the user object")
		}
	})

	t.Run("TOTPCompletesLoginWithNewToken", func(t *testing.T) {
		p := e.pendingLogin("bob@example.com")
		before := p.cookie(server.SessionCookie)
		r := p.verify("totp", e.code(u.secret)).want(t, 200, "")
		if r.str("status") != "authenticated" || r.str("user", "email") != "bob@example.com" {
			t.Errorf("got %s", r.Raw)
		}
		if p.cookie(server.SessionCookie) == before {
			t.Errorf("session token not rotated on 2FA success")
		}
		p.do("GET", "/api/me", nil).want(t, 200, "")
		stale := e.client()
		stale.setCookie(server.SessionCookie, before)
		stale.do("GET", "/api/me", nil).want(t, 401, "unauthenticated")
	})

	t.Run("ReplayRejected", func(t *testing.T) {
		p := e.pendingLogin("bob@example.com")
		p.verify("totp", e.code(u.secret)).want(t, 401, "invalid_code")
		e.Clock.Advance(30 * time.Second)
		p.verify("totp", e.code(u.secret)).want(t, 200, "")
	})

	t.Run("SkewOneStepEitherSide", func(t *testing.T) {
		e.Clock.Advance(90 * time.Second)
		now := e.Clock.Now()
		p := e.pendingLogin("bob@example.com")
		p.verify("totp", totp.Code(u.secret, now.Add(-60*time.Second), totp.Default)).want(t, 401, "invalid_code")
		p.verify("totp", totp.Code(u.secret, now.Add(-30*time.Second), totp.Default)).want(t, 200, "")
		p = e.pendingLogin("bob@example.com")
		p.verify("totp", totp.Code(u.secret, now.Add(30*time.Second), totp.Default)).want(t, 200, "")
		// The step after "now" was used, so "now" itself is refused until it passes.
		p = e.pendingLogin("bob@example.com")
		p.verify("totp", totp.Code(u.secret, now, totp.Default)).want(t, 401, "invalid_code")
	})

	t.Run("SpacesInCodeAccepted", func(t *testing.T) {
		e.Clock.Advance(90 * time.Second)
		code := e.code(u.secret)
		p := e.pendingLogin("bob@example.com")
		p.verify("totp", code[:3]+" "+code[3:]).want(t, 200, "")
	})

	t.Run("BackupCodeOnceCaseAndDashInsensitive", func(t *testing.T) {
		p := e.pendingLogin("bob@example.com")
		typed := strings.ToUpper(strings.ReplaceAll(u.codes[0], "-", ""))
		p.verify("backup_code", typed).want(t, 200, "")
		again := e.pendingLogin("bob@example.com")
		again.verify("backup_code", u.codes[0]).want(t, 401, "invalid_code")
		ms := p.do("GET", "/api/me", nil).Body["methods"].(map[string]any)
		if ms["backup_codes_remaining"] != float64(9) {
			t.Errorf("backup_codes_remaining got %v, want 9", ms["backup_codes_remaining"])
		}
		if !e.alerted("bob@example.com", "backup code") {
			t.Errorf("no alert for a used backup code")
		}
		if types := p.eventTypes(t); !has(types, "backup_code.used") || !has(types, "2fa.succeeded") || !has(types, "2fa.failed") {
			t.Errorf("events %v lack backup_code.used, 2fa.succeeded or 2fa.failed", types)
		}
	})

	t.Run("NeedsPendingSession", func(t *testing.T) {
		e.client().verify("totp", "123456").want(t, 401, "unauthenticated")
		u.c.verify("totp", e.code(u.secret)).want(t, 401, "unauthenticated")
	})

	t.Run("BadInput", func(t *testing.T) {
		p := e.pendingLogin("bob@example.com")
		p.verify("email", "123456").want(t, 400, "invalid_request")
		p.verify("sms", "123456").want(t, 400, "invalid_request") // not enrolled: not an attempt
		p.verify("totp", "").want(t, 400, "invalid_request")
		p.do("POST", "/api/2fa/verify", `{"method":"totp","code":123456}`).want(t, 400, "invalid_request")
	})
}

func TestSingleUseUnderConcurrency(t *testing.T) {
	e := newEnv(t, func(o *options) { o.auth.LockoutThreshold = 100 })
	u := e.enroll("race@example.com")
	race := func(t *testing.T, method, code string) {
		clients := make([]*client, 20)
		for i := range clients {
			clients[i] = e.pendingLogin("race@example.com")
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		statuses := map[int]int{}
		start := make(chan struct{})
		for _, c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				r := c.verify(method, code)
				mu.Lock()
				statuses[r.Status]++
				mu.Unlock()
			}()
		}
		close(start)
		wg.Wait()
		if statuses[200] != 1 || statuses[401] != 19 {
			t.Fatalf("got statuses %v, want exactly one 200 and 19 401", statuses)
		}
	}
	t.Run("OneTOTPCodeSucceedsOnce", func(t *testing.T) { race(t, "totp", e.code(u.secret)) })
	t.Run("OneBackupCodeSucceedsOnce", func(t *testing.T) { race(t, "backup_code", u.codes[1]) })
}

func TestLockout(t *testing.T) {
	dbPath := newDatabase(t)
	e := newEnv(t, func(o *options) { o.dbPath = dbPath })
	u := e.enroll("lock@example.com")
	wrong := func() string {
		if e.code(u.secret) == "000000" {
			return "111111"
		}
		return "000000"
	}
	retryAfter := func(r *response) int {
		n, _ := strconv.Atoi(r.Header.Get("Retry-After"))
		return n
	}

	t.Run("LockedAfterFiveFailuresAcrossSessions", func(t *testing.T) {
		for i := range 5 {
			e.pendingLogin("lock@example.com").verify("totp", wrong()).want(t, 401, "invalid_code") // a new session each time
			_ = i
		}
		r := e.pendingLogin("lock@example.com").verify("totp", e.code(u.secret)).want(t, 429, "locked")
		if got := retryAfter(r); got < 899 || got > 900 {
			t.Errorf("Retry-After got %d, want 900", got)
		}
		e.pendingLogin("lock@example.com").verify("backup_code", u.codes[0]).want(t, 429, "locked")
		if !e.alerted("lock@example.com", "locked") {
			t.Errorf("no lockout alert")
		}
		if types := u.c.eventTypes(t); !has(types, "2fa.locked") {
			t.Errorf("no 2fa.locked event in %v", types)
		}
	})

	t.Run("LockoutSurvivesRestart", func(t *testing.T) {
		e2 := newEnv(t, func(o *options) { o.dbPath = dbPath })
		e2.Clock.Set(e.Clock.Now())
		e2.pendingLogin("lock@example.com").verify("totp", e2.code(u.secret)).want(t, 429, "locked")
	})

	t.Run("EachFurtherFailureDoublesCappedAt24h", func(t *testing.T) {
		want := []int{1800, 3600, 7200, 14400, 28800, 57600, 86400, 86400}
		e.Clock.Advance(15 * time.Minute)
		for _, w := range want {
			e.pendingLogin("lock@example.com").verify("totp", wrong()).want(t, 401, "invalid_code")
			r := e.pendingLogin("lock@example.com").verify("totp", e.code(u.secret)).want(t, 429, "locked")
			if got := retryAfter(r); got < w-1 || got > w {
				t.Fatalf("Retry-After got %d, want %d", got, w)
			}
			e.Clock.Advance(time.Duration(w) * time.Second)
		}
	})

	t.Run("SuccessResetsTheCount", func(t *testing.T) {
		e.pendingLogin("lock@example.com").verify("totp", e.code(u.secret)).want(t, 200, "")
		for range 4 {
			e.pendingLogin("lock@example.com").verify("totp", wrong()).want(t, 401, "invalid_code")
		}
		e.Clock.Advance(30 * time.Second)
		e.pendingLogin("lock@example.com").verify("totp", e.code(u.secret)).want(t, 200, "")
	})
}

func TestRateLimits(t *testing.T) {
	t.Run("VerifyPerIP", func(t *testing.T) {
		e := newEnv(t, func(o *options) {
			o.auth.VerifyRate = mustRate(t, "3/m")
			o.auth.LockoutThreshold = 100
		})
		e.enroll("rl@example.com")
		p := e.pendingLogin("rl@example.com")
		for range 3 {
			p.verify("totp", "000000")
		}
		r := p.verify("totp", "000000").want(t, 429, "rate_limited")
		if n, _ := strconv.Atoi(r.Header.Get("Retry-After")); n < 1 || n > 20 {
			t.Errorf("Retry-After got %q, want 1..20", r.Header.Get("Retry-After"))
		}
	})
	t.Run("AuthPerIP", func(t *testing.T) {
		e := newEnv(t, func(o *options) { o.auth.AuthRate = mustRate(t, "3/h") })
		e.register("ar@example.com", pw)
		for range 2 {
			e.client().do("POST", "/api/login", map[string]string{"email": "ar@example.com", "password": pw}).want(t, 200, "")
		}
		r := e.client().do("POST", "/api/login", map[string]string{"email": "ar@example.com", "password": pw}).want(t, 429, "rate_limited")
		if r.Header.Get("Retry-After") == "" {
			t.Errorf("no Retry-After")
		}
	})
	t.Run("ParallelPasswordGuessesStayWithinTheAccountLimit", func(t *testing.T) {
		e := newEnv(t)
		e.register("par@example.com", pw)
		var wg sync.WaitGroup
		var mu sync.Mutex
		got := map[string]int{}
		for range 30 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := e.client().do("POST", "/api/login", map[string]string{"email": "par@example.com", "password": "wrong password"})
				mu.Lock()
				got[r.errCode()]++
				mu.Unlock()
			}()
		}
		wg.Wait()
		if got["invalid_credentials"] != 10 || got["rate_limited"] != 20 {
			t.Errorf("got %v, want 10 invalid_credentials and 20 rate_limited", got)
		}
	})
	t.Run("RightPasswordsDoNotUseTheAccountLimit", func(t *testing.T) {
		e := newEnv(t)
		e.register("many@example.com", pw)
		for range 25 {
			e.client().do("POST", "/api/login", map[string]string{"email": "many@example.com", "password": pw}).want(t, 200, "")
		}
	})
	t.Run("PasswordGuessesPerAccountLookAlikeForUnknownEmail", func(t *testing.T) {
		e := newEnv(t)
		e.register("pg@example.com", pw)
		for _, email := range []string{"pg@example.com", "ghost@example.com"} {
			for range 10 {
				e.client().do("POST", "/api/login", map[string]string{"email": email, "password": "wrong password"}).want(t, 401, "invalid_credentials")
			}
			e.client().do("POST", "/api/login", map[string]string{"email": email, "password": "wrong password"}).want(t, 429, "rate_limited")
		}
		// Even the right password waits, or the limit would be an oracle.
		e.client().do("POST", "/api/login", map[string]string{"email": "pg@example.com", "password": pw}).want(t, 429, "rate_limited")
		e.Clock.Advance(2 * time.Minute)
		e.client().do("POST", "/api/login", map[string]string{"email": "pg@example.com", "password": pw}).want(t, 200, "")
	})
}

func TestRecentAuthentication(t *testing.T) {
	e := newEnv(t)
	u := e.enroll("recent@example.com")

	t.Run("StaleSessionMustReauthenticate", func(t *testing.T) {
		e.Clock.Advance(11 * time.Minute)
		u.c.do("GET", "/api/me", nil).want(t, 200, "")
		u.c.do("DELETE", "/api/2fa/totp/"+u.totpID, nil).want(t, 403, "reauthentication_required")
		u.c.do("POST", "/api/2fa/disable", nil).want(t, 403, "reauthentication_required")
		u.c.do("POST", "/api/2fa/backup-codes", nil).want(t, 403, "reauthentication_required")
	})

	t.Run("ReauthenticateNeedsPasswordAndSecondFactor", func(t *testing.T) {
		u.c.do("POST", "/api/reauthenticate", map[string]string{"password": "wrong password"}).want(t, 401, "invalid_credentials")
		u.c.do("POST", "/api/reauthenticate", map[string]string{"password": pw}).want(t, 400, "invalid_request")
		before := u.c.cookie(server.SessionCookie)
		u.c.do("POST", "/api/reauthenticate", map[string]string{"password": pw, "method": "totp", "code": e.code(u.secret)}).want(t, 200, "")
		if u.c.cookie(server.SessionCookie) == before {
			t.Errorf("session token not rotated on reauthentication")
		}
	})

	t.Run("RegenerateBackupCodesVoidsOldSet", func(t *testing.T) {
		r := u.c.do("POST", "/api/2fa/backup-codes", nil).want(t, 200, "")
		fresh := r.Body["backup_codes"].([]any)
		if len(fresh) != 10 {
			t.Fatalf("got %d codes, want 10", len(fresh))
		}
		e.pendingLogin("recent@example.com").verify("backup_code", u.codes[0]).want(t, 401, "invalid_code")
		e.pendingLogin("recent@example.com").verify("backup_code", fresh[0].(string)).want(t, 200, "")
	})

	t.Run("OtherUsersFactorIsNotFound", func(t *testing.T) {
		other := e.enroll("other@example.com")
		other.c.do("DELETE", "/api/2fa/totp/"+u.totpID, nil).want(t, 404, "not_found")
	})

	t.Run("RemovingLastFactorTurns2FAOff", func(t *testing.T) {
		u.c.do("DELETE", "/api/2fa/totp/"+u.totpID, nil).want(t, 204, "")
		me := u.c.do("GET", "/api/me", nil).want(t, 200, "")
		if me.Body["user"].(map[string]any)["two_factor_enabled"] != false {
			t.Errorf("two_factor_enabled still true")
		}
		if me.Body["methods"].(map[string]any)["backup_codes_remaining"] != float64(0) {
			t.Errorf("backup codes left behind")
		}
		r := e.client().do("POST", "/api/login", map[string]string{"email": "recent@example.com", "password": pw}).want(t, 200, "")
		if r.str("status") != "authenticated" {
			t.Errorf("got %s, want authenticated without a second factor", r.Raw)
		}
		if types := u.c.eventTypes(t); !has(types, "totp.removed") || !has(types, "2fa.disabled") {
			t.Errorf("events %v lack totp.removed or 2fa.disabled", types)
		}
	})

	t.Run("DisableRemovesEverything", func(t *testing.T) {
		d := e.enroll("disable@example.com")
		d.c.do("POST", "/api/2fa/disable", nil).want(t, 204, "")
		r := e.client().do("POST", "/api/login", map[string]string{"email": "disable@example.com", "password": pw}).want(t, 200, "")
		if r.str("status") != "authenticated" {
			t.Errorf("got %s after disable, want authenticated", r.Raw)
		}
		if !e.alerted("disable@example.com", "turned off") {
			t.Errorf("no alert for 2FA disabled")
		}
		types := d.c.eventTypes(t)
		for _, want := range []string{"totp.enabled", "backup_codes.generated", "2fa.disabled"} {
			if !has(types, want) {
				t.Errorf("events %v lack %s", types, want)
			}
		}
	})
}

func TestSecretsNeverStoredOrLogged(t *testing.T) {
	e := newEnv(t, onSQLite) // reads the database files
	u := e.enroll("vault@example.com")
	p := e.pendingLogin("vault@example.com")
	code := e.code(u.secret)
	p.verify("totp", code).want(t, 200, "")
	e.pendingLogin("vault@example.com").verify("backup_code", u.codes[2]).want(t, 200, "")

	var files []byte
	for _, suffix := range []string{"", "-wal", "-shm"} {
		b, _ := os.ReadFile(e.DBPath + suffix)
		files = append(files, b...)
	}
	secrets := map[string]string{
		"base32 secret": totp.EncodeSecret(u.secret),
		"raw secret":    string(u.secret),
		"password":      pw,
	}
	for i, c := range u.codes {
		secrets["backup code "+strconv.Itoa(i)] = c
		secrets["normalised backup code "+strconv.Itoa(i)] = strings.ReplaceAll(c, "-", "")
	}
	logs := e.Logs.String()
	for name, s := range secrets {
		if strings.Contains(string(files), s) {
			t.Errorf("the database files contain the %s", name)
		}
		if strings.Contains(logs, s) {
			t.Errorf("the log contains the %s", name)
		}
	}
	if strings.Contains(logs, `"`+code+`"`) {
		t.Errorf("the log contains a TOTP code")
	}
}

func TestKeyRotation(t *testing.T) {
	dbPath := newDatabase(t)
	oldKey, newKey := mustKey(t), mustKey(t)
	e := newEnv(t, func(o *options) { o.dbPath = dbPath; o.auth.Keys = ringOf(oldKey) })
	u := e.enroll("rot@example.com")

	mid := newEnv(t, func(o *options) { o.dbPath = dbPath; o.auth.Keys = ringOf(newKey, oldKey) })
	mid.Clock.Set(e.Clock.Now())
	resealed, remaining, err := mid.Auth.RotateKeys(t.Context())
	if err != nil || remaining != 0 || resealed < 2 {
		t.Fatalf("RotateKeys: resealed %d remaining %d err %v; want >= 2 (secret, backup key), 0, nil", resealed, remaining, err)
	}

	after := newEnv(t, func(o *options) { o.dbPath = dbPath; o.auth.Keys = ringOf(newKey) })
	after.Clock.Set(e.Clock.Now().Add(time.Minute))
	after.pendingLogin("rot@example.com").verify("totp", after.code(u.secret)).want(t, 200, "")
	after.pendingLogin("rot@example.com").verify("backup_code", u.codes[0]).want(t, 200, "")

	stale := newEnv(t, func(o *options) { o.dbPath = dbPath; o.auth.Keys = ringOf(oldKey) })
	stale.Clock.Set(e.Clock.Now().Add(2 * time.Minute))
	stale.pendingLogin("rot@example.com").verify("totp", stale.code(u.secret)).want(t, 500, "internal")
	_ = auth.CodeInternal
}

func TestTOTPConfirmationIsBounded(t *testing.T) {
	start := func(e *env, email string) (*client, []byte) {
		c := e.register(email, pw)
		setup := c.do("POST", "/api/2fa/setup", nil).want(t, 200, "")
		secret, err := totp.DecodeSecret(setup.str("manual_key"))
		if err != nil {
			t.Fatal(err)
		}
		return c, secret
	}
	wrong := func(right string) string {
		if right == "000000" {
			return "111111"
		}
		return "000000"
	}
	t.Run("StaleSessionCannotConfirm", func(t *testing.T) {
		e := newEnv(t)
		c, secret := start(e, "stale@example.com")
		e.Clock.Advance(11 * time.Minute) // past recent authentication
		c.do("POST", "/api/2fa/verify-setup", map[string]string{"token": e.code(secret)}).want(t, 403, "reauthentication_required")
	})
	t.Run("GuessesAreLimitedPerIP", func(t *testing.T) {
		e := newEnv(t, func(o *options) { o.auth.VerifyRate = mustRate(t, "3/m") })
		c, secret := start(e, "guess@example.com")
		for range 3 {
			c.do("POST", "/api/2fa/verify-setup", map[string]string{"token": wrong(e.code(secret))}).want(t, 400, "invalid_code")
		}
		c.do("POST", "/api/2fa/verify-setup", map[string]string{"token": e.code(secret)}).want(t, 429, "rate_limited")
		if types := c.eventTypes(t); !has(types, "2fa.failed") {
			t.Errorf("wrong setup codes leave no 2fa.failed event: %v", types)
		}
	})
	t.Run("SetupExpires", func(t *testing.T) {
		e := newEnv(t)
		c, secret := start(e, "expired@example.com")
		e.Clock.Advance(16 * time.Minute)
		c.do("POST", "/api/reauthenticate", map[string]string{"password": pw}).want(t, 200, "")
		c.do("POST", "/api/2fa/verify-setup", map[string]string{"token": e.code(secret)}).want(t, 400, "invalid_request")
	})
}
