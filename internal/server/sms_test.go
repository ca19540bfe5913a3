package server_test

import (
	"context"
	"errors"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twofold-auth/twofold/internal/auth"
	"github.com/twofold-auth/twofold/internal/notify"
)

const phone = "+14155550123"

var sixDigits = regexp.MustCompile(`\b\d{6}\b`)

// lastSMS returns the code in the newest SMS to `to` in the outbox.
func (e *env) lastSMS(to string) string {
	e.t.Helper()
	code := ""
	for _, m := range e.outbox() {
		if m["channel"] == "sms" && m["to"] == to {
			code = sixDigits.FindString(m["body"])
		}
	}
	if code == "" {
		e.t.Fatalf("no SMS code to %s in the outbox", to)
	}
	return code
}

func (e *env) smsCount(to string) int {
	n := 0
	for _, m := range e.outbox() {
		if m["channel"] == "sms" && m["to"] == to {
			n++
		}
	}
	return n
}

type smsUser struct {
	c       *client
	email   string
	phoneID string
	codes   []string
}

// enrollSMS registers email and adds phone as its only second factor.
func (e *env) enrollSMS(email, to string) smsUser {
	e.t.Helper()
	c := e.register(email, pw)
	c.do("POST", "/api/sms/setup", map[string]string{"phone": to}).want(e.t, 202, "")
	r := c.do("POST", "/api/sms/verify-setup", map[string]string{"code": e.lastSMS(to)}).want(e.t, 200, "")
	var codes []string
	for _, v := range r.Body["backup_codes"].([]any) {
		codes = append(codes, v.(string))
	}
	e.Clock.Advance(31 * time.Second) // past the send cooldown
	return smsUser{c: c, email: email, phoneID: r.str("method", "id"), codes: codes}
}

// sendCode asks for an SMS code for a pending login and returns it; the
// clock then moves past the send cooldown.
func (e *env) sendCode(c *client, to string) string {
	e.t.Helper()
	c.do("POST", "/api/2fa/send", map[string]string{"method": "sms"}).want(e.t, 202, "")
	code := e.lastSMS(to)
	e.Clock.Advance(31 * time.Second)
	return code
}

// otherCode is a valid-looking code that is not code.
func otherCode(code string) string {
	if code == "000000" {
		return "000001"
	}
	return "000000"
}

func TestSMSSetup(t *testing.T) {
	e := newEnv(t)
	c := e.register("sms@example.com", pw)

	t.Run("PhoneMustBeE164", func(t *testing.T) {
		for _, p := range []string{"", "4155550123", "+0123456789", "+1 415 555 O123", "+1234", "+1234567890123456", "++14155550123", "tel:+14155550123"} {
			r := c.do("POST", "/api/sms/setup", map[string]string{"phone": p}).want(t, 400, "invalid_request")
			if !strings.Contains(r.str("error", "message"), "E.164") {
				t.Errorf("phone %q: message %q does not explain E.164", p, r.str("error", "message"))
			}
		}
		if n := e.smsCount(phone); n != 0 {
			t.Errorf("SMS sent for an invalid number: %d", n)
		}
	})

	var setupCode string
	t.Run("SendsACodeAndSaysSMSIsRestricted", func(t *testing.T) {
		r := c.do("POST", "/api/sms/setup", map[string]string{"phone": "+1 (415) 555-0123"}).want(t, 202, "")
		if got := r.str("phone"); got != "+*********23" {
			t.Errorf("phone: got %q, want it masked but the last 2 digits", got)
		}
		if !strings.Contains(r.str("message"), "restricted authenticator") || !strings.Contains(r.str("message"), "NIST") {
			t.Errorf("message does not call SMS a restricted authenticator: %q", r.str("message"))
		}
		setupCode = e.lastSMS(phone)
	})
	t.Run("WrongCodeIs400", func(t *testing.T) {
		c.do("POST", "/api/sms/verify-setup", map[string]string{"code": otherCode(setupCode)}).want(t, 400, "invalid_code")
	})
	t.Run("ResendWithinTheCooldownIsLimited", func(t *testing.T) {
		r := c.do("POST", "/api/sms/setup", map[string]string{"phone": phone}).want(t, 429, "rate_limited")
		if r.Header.Get("Retry-After") == "" {
			t.Errorf("no Retry-After")
		}
	})
	t.Run("ConfirmEnablesWithBackupCodes", func(t *testing.T) {
		r := c.do("POST", "/api/sms/verify-setup", map[string]string{"code": setupCode}).want(t, 200, "")
		if r.Body["success"] != true || r.str("method", "phone") != "+*********23" {
			t.Errorf("verify-setup: %s", r.Raw)
		}
		if codes, _ := r.Body["backup_codes"].([]any); len(codes) != 10 {
			t.Errorf("backup codes: got %d, want 10", len(codes))
		}
		me := c.do("GET", "/api/me", nil).want(t, 200, "")
		sms, _ := me.Body["methods"].(map[string]any)["sms"].([]any)
		if len(sms) != 1 || sms[0].(map[string]any)["phone"] != "+*********23" {
			t.Errorf("me: sms methods %v", sms)
		}
		if !has(c.eventTypes(t), "sms.enabled") {
			t.Errorf("no sms.enabled event")
		}
		if !e.alerted("sms@example.com", "New phone") {
			t.Errorf("no alert for the new phone")
		}
	})
	t.Run("CodeIsSingleUse", func(t *testing.T) {
		c.do("POST", "/api/sms/verify-setup", map[string]string{"code": setupCode}).want(t, 400, "invalid_request")
	})
	t.Run("NeedsRecentAuthentication", func(t *testing.T) {
		e.Clock.Advance(11 * time.Minute)
		c.do("POST", "/api/sms/setup", map[string]string{"phone": phone}).want(t, 403, "reauthentication_required")
	})
}

func TestSMSPhoneChangeIsANewEnrollment(t *testing.T) {
	e := newEnv(t)
	u := e.enrollSMS("change@example.com", phone)
	const other = "+447700900123"
	u.c.do("POST", "/api/sms/setup", map[string]string{"phone": other}).want(t, 202, "")
	// The old phone still signs in until the new one is confirmed.
	if n := len(u.c.do("GET", "/api/me", nil).Body["methods"].(map[string]any)["sms"].([]any)); n != 1 {
		t.Fatalf("phones before confirming: %d", n)
	}
	r := u.c.do("POST", "/api/sms/verify-setup", map[string]string{"code": e.lastSMS(other)}).want(t, 200, "")
	if _, ok := r.Body["backup_codes"]; ok {
		t.Errorf("backup codes issued again for a second enrollment")
	}
	sms := u.c.do("GET", "/api/me", nil).Body["methods"].(map[string]any)["sms"].([]any)
	if len(sms) != 1 || sms[0].(map[string]any)["phone"] != "+**********23" || sms[0].(map[string]any)["id"] == u.phoneID {
		t.Errorf("phones after the change: %v", sms)
	}
	if types := u.c.eventTypes(t); !has(types, "sms.removed") {
		t.Errorf("no sms.removed for the replaced phone: %v", types)
	}
	e.Clock.Advance(31 * time.Second)
	p := e.pendingLogin("change@example.com")
	p.verify("sms", e.sendCode(p, other)).want(t, 200, "")
}

func TestSMSLogin(t *testing.T) {
	e := newEnv(t)
	su := e.enrollSMS("login@example.com", phone)

	t.Run("LoginOffersSMS", func(t *testing.T) {
		r := e.client().do("POST", "/api/login", map[string]string{"email": "login@example.com", "password": pw}).want(t, 200, "")
		ms, _ := r.Body["methods"].([]any)
		if len(ms) != 2 || ms[0] != "sms" || ms[1] != "backup_code" {
			t.Errorf("methods: got %v, want [sms backup_code]", ms)
		}
	})
	t.Run("SentCodeSignsIn", func(t *testing.T) {
		p := e.pendingLogin("login@example.com")
		p.verify("sms", e.sendCode(p, phone)).want(t, 200, "")
		p.do("GET", "/api/me", nil).want(t, 200, "")
	})
	t.Run("ReuseRefused", func(t *testing.T) {
		a := e.pendingLogin("login@example.com")
		code := e.sendCode(a, phone)
		a.verify("sms", code).want(t, 200, "")
		b := e.pendingLogin("login@example.com")
		b.verify("sms", code).want(t, 401, "invalid_code")
	})
	t.Run("ResendVoidsTheOldCode", func(t *testing.T) {
		p := e.pendingLogin("login@example.com")
		old := e.sendCode(p, phone)
		fresh := e.sendCode(p, phone)
		if old == fresh {
			t.Skip("the two random codes happen to be equal")
		}
		p.verify("sms", old).want(t, 401, "invalid_code")
		p.verify("sms", fresh).want(t, 200, "")
	})
	t.Run("CodeOfOneLoginAttemptDoesNotFinishAnother", func(t *testing.T) {
		a := e.pendingLogin("login@example.com")
		b := e.pendingLogin("login@example.com")
		code := e.sendCode(a, phone)
		b.verify("sms", code).want(t, 401, "invalid_code")
		a.verify("sms", code).want(t, 200, "")
	})
	t.Run("ExpiresAfterFiveMinutes", func(t *testing.T) {
		p := e.pendingLogin("login@example.com")
		code := e.sendCode(p, phone)
		e.Clock.Advance(5*time.Minute - 31*time.Second)
		p.verify("sms", code).want(t, 401, "invalid_code")
	})
	t.Run("LeftoverLoginCodeDoesNotReauthenticate", func(t *testing.T) {
		p := e.pendingLogin("login@example.com")
		code := e.sendCode(p, phone)
		p.verify("backup_code", su.codes[0]).want(t, 200, "") // the texted code is never used
		p.do("POST", "/api/reauthenticate", map[string]string{"password": pw, "method": "sms", "code": code}).
			want(t, 400, "invalid_request")
	})
	t.Run("SendNeedsAPendingSession", func(t *testing.T) {
		e.client().do("POST", "/api/2fa/send", map[string]string{"method": "sms"}).want(t, 401, "unauthenticated")
	})
	t.Run("OnlySMSIsSent", func(t *testing.T) {
		p := e.pendingLogin("login@example.com")
		p.do("POST", "/api/2fa/send", map[string]string{"method": "email"}).want(t, 400, "invalid_request")
	})
	t.Run("SendWithoutAPhoneIs400", func(t *testing.T) {
		u := e.enroll("totponly@example.com")
		_ = u
		p := e.pendingLogin("totponly@example.com")
		p.do("POST", "/api/2fa/send", map[string]string{"method": "sms"}).want(t, 400, "invalid_request")
	})
}

func TestSMSCodeSucceedsOnceUnderConcurrency(t *testing.T) {
	e := newEnv(t)
	e.enrollSMS("race@example.com", phone)
	p := e.pendingLogin("race@example.com")
	code := e.sendCode(p, phone)
	tok := p.cookie("twofold_session")
	var wg sync.WaitGroup
	statuses := make([]int, 10)
	for i := range statuses {
		wg.Go(func() {
			c := e.client()
			c.setCookie("twofold_session", tok)
			statuses[i] = c.verify("sms", code).Status
		})
	}
	wg.Wait()
	ok := 0
	for _, s := range statuses {
		if s == 200 {
			ok++
		}
	}
	if ok != 1 {
		t.Errorf("successes: got %d of %v, want exactly 1", ok, statuses)
	}
}

func TestSMSLockout(t *testing.T) {
	e := newEnv(t)
	u := e.enrollSMS("lock@example.com", phone)
	p := e.pendingLogin("lock@example.com")
	code := e.sendCode(p, phone)
	for range 4 {
		p.verify("sms", otherCode(code)).want(t, 401, "invalid_code")
	}
	t.Run("ResendDoesNotResetTheFailureCount", func(t *testing.T) {
		code = e.sendCode(p, phone)
		p.verify("sms", otherCode(code)).want(t, 401, "invalid_code")
		r := p.verify("sms", code).want(t, 429, "locked")
		if r.Header.Get("Retry-After") == "" {
			t.Errorf("no Retry-After")
		}
	})
	t.Run("NoSendWhileLocked", func(t *testing.T) {
		p.do("POST", "/api/2fa/send", map[string]string{"method": "sms"}).want(t, 429, "locked")
	})
	t.Run("NoNewPhoneTextedWhileLocked", func(t *testing.T) {
		const other = "+15550001234"
		u.c.do("POST", "/api/sms/setup", map[string]string{"phone": other}).want(t, 429, "locked")
		if n := e.smsCount(other); n != 0 {
			t.Errorf("%d texts sent to a new phone of a locked account", n)
		}
	})
	if !e.alerted("lock@example.com", "locked") {
		t.Errorf("no lockout alert")
	}
}

func TestSMSSendLimits(t *testing.T) {
	e := newEnv(t)
	e.enrollSMS("limit@example.com", phone)
	a := e.pendingLogin("limit@example.com")
	b := e.pendingLogin("limit@example.com")
	a.do("POST", "/api/2fa/send", map[string]string{"method": "sms"}).want(t, 202, "")

	t.Run("CooldownIsPerAccount", func(t *testing.T) {
		r := b.do("POST", "/api/2fa/send", map[string]string{"method": "sms"}).want(t, 429, "rate_limited")
		if got := r.Header.Get("Retry-After"); got != "30" {
			t.Errorf("Retry-After: got %q, want 30", got)
		}
	})
	t.Run("AtMostTenAnHour", func(t *testing.T) {
		// The setup code and the send above count: 2 so far.
		for i := 3; i <= 10; i++ {
			e.Clock.Advance(30 * time.Second)
			a.do("POST", "/api/2fa/send", map[string]string{"method": "sms"}).want(t, 202, "")
		}
		e.Clock.Advance(30 * time.Second)
		r := a.do("POST", "/api/2fa/send", map[string]string{"method": "sms"}).want(t, 429, "rate_limited")
		if r.Header.Get("Retry-After") == "" {
			t.Errorf("no Retry-After")
		}
	})
}

func TestSMSPerIPLimit(t *testing.T) {
	e := newEnv(t, func(o *options) { o.auth.AuthRate = mustRate(t, "4/h") })
	c := e.register("ip@example.com", pw)                                              // 1
	c.do("POST", "/api/sms/setup", map[string]string{"phone": phone}).want(t, 202, "") // 2
	c.do("POST", "/api/sms/verify-setup", map[string]string{"code": e.lastSMS(phone)}).want(t, 200, "")
	e.Clock.Advance(31 * time.Second)
	p := e.client()
	p.do("POST", "/api/login", map[string]string{"email": "ip@example.com", "password": pw}).want(t, 200, "") // 3
	p.do("POST", "/api/2fa/send", map[string]string{"method": "sms"}).want(t, 202, "")                        // 4
	e.Clock.Advance(31 * time.Second)
	p.do("POST", "/api/2fa/send", map[string]string{"method": "sms"}).want(t, 429, "rate_limited")
}

// failingSMS is an SMS channel that fails, or hangs until its context ends.
type failingSMS struct{ hang bool }

func (f failingSMS) Send(ctx context.Context, m notify.Message) error {
	if f.hang {
		<-ctx.Done()
		return ctx.Err()
	}
	return errors.New("twilio: HTTP 500")
}

func TestSMSDeliveryFailure(t *testing.T) {
	for _, tc := range []struct {
		name string
		sms  failingSMS
	}{
		{"ProviderErrorIs502", failingSMS{}},
		{"ProviderTimeoutIs502", failingSMS{hang: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(o *options) {
				outbox := notify.NewOutbox(o.dbPath+".outbox", nil)
				o.auth.Notifier = notify.Channels{Email: outbox, SMS: tc.sms}
				o.auth.SendTimeout = 100 * time.Millisecond
			})
			c := e.register("fail@example.com", pw)
			start := time.Now()
			r := c.do("POST", "/api/sms/setup", map[string]string{"phone": phone}).want(t, 502, "delivery_failed")
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v to fail", d)
			}
			if strings.Contains(string(r.Raw), "500") || strings.Contains(string(r.Raw), "twilio") {
				t.Errorf("the error shows provider internals: %s", r.Raw)
			}
		})
	}
}

func TestRemoveSMS(t *testing.T) {
	e := newEnv(t)
	u := e.enrollSMS("remove@example.com", phone)
	u.c.do("DELETE", "/api/sms/nope", nil).want(t, 404, "not_found")
	u.c.do("DELETE", "/api/sms/"+u.phoneID, nil).want(t, 204, "")
	types := u.c.eventTypes(t)
	if !has(types, "sms.removed") || !has(types, "2fa.disabled") {
		t.Errorf("events after removing the only phone: %v", types)
	}
	r := e.client().do("POST", "/api/login", map[string]string{"email": "remove@example.com", "password": pw}).want(t, 200, "")
	if r.str("status") != "authenticated" {
		t.Errorf("login after removing the only factor: %s", r.Raw)
	}
}

func TestPhoneAndCodesNeverStoredOrLogged(t *testing.T) {
	e := newEnv(t)
	e.enrollSMS("private@example.com", phone)
	p := e.pendingLogin("private@example.com")
	code := e.sendCode(p, phone)
	p.verify("sms", code).want(t, 200, "")
	var files []byte
	for _, suffix := range []string{"", "-wal", "-shm"} {
		b, _ := os.ReadFile(e.DBPath + suffix)
		files = append(files, b...)
	}
	for _, s := range []string{phone, strings.TrimPrefix(phone, "+")} {
		if strings.Contains(string(files), s) {
			t.Errorf("the database files contain the phone number")
		}
		if strings.Contains(e.Logs.String(), s) {
			t.Errorf("the log contains the phone number")
		}
	}
	if strings.Contains(e.Logs.String(), `"`+code+`"`) {
		t.Errorf("the log contains an SMS code")
	}
}

func TestSMSKeyRotation(t *testing.T) {
	dbPath := t.TempDir() + "/twofold.db"
	oldKey, newKey := mustKey(t), mustKey(t)
	e := newEnv(t, func(o *options) { o.dbPath = dbPath; o.auth.Keys = ringOf(oldKey) })
	e.enrollSMS("rot@example.com", phone)
	mid := newEnv(t, func(o *options) { o.dbPath = dbPath; o.auth.Keys = ringOf(newKey, oldKey) })
	mid.Clock.Set(e.Clock.Now())
	if _, remaining, err := mid.Auth.RotateKeys(t.Context()); err != nil || remaining != 0 {
		t.Fatalf("RotateKeys: remaining %d, err %v", remaining, err)
	}
	after := newEnv(t, func(o *options) { o.dbPath = dbPath; o.auth.Keys = ringOf(newKey) })
	after.Clock.Set(e.Clock.Now().Add(time.Minute))
	p := after.pendingLogin("rot@example.com")
	p.verify("sms", after.sendCode(p, phone)).want(t, 200, "")
	_ = auth.CodeInternal
}
