package auth_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twofold-auth/twofold/internal/auth"
	"github.com/twofold-auth/twofold/internal/notify"
	"github.com/twofold-auth/twofold/internal/password"
	"github.com/twofold-auth/twofold/internal/seal"
	"github.com/twofold-auth/twofold/internal/sqlite"
	"github.com/twofold-auth/twofold/internal/testclock"
)

// recorder is a notify.Sender that records messages and fails as told.
type recorder struct {
	mu   sync.Mutex
	msgs []notify.Message
	// tries counts every call, failed ones included.
	tries int
	// fail, when set, decides each call's error.
	fail func(try int, m notify.Message) error
	sent chan notify.Message
}

func (r *recorder) Send(ctx context.Context, m notify.Message) error {
	r.mu.Lock()
	r.tries++
	try := r.tries
	fail := r.fail
	r.mu.Unlock()
	if fail != nil {
		if err := fail(try, m); err != nil {
			return err
		}
	}
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	r.mu.Unlock()
	if r.sent != nil {
		r.sent <- m
	}
	return nil
}

func (r *recorder) messages(channel string) []notify.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []notify.Message
	for _, m := range r.msgs {
		if m.Channel == channel {
			out = append(out, m)
		}
	}
	return out
}

// world is a database file, a key and a clock that several service
// instances (one per "process") can share.
type world struct {
	t     *testing.T
	path  string
	key   seal.Key
	clock *testclock.Clock
}

func newWorld(t *testing.T) *world {
	k, err := seal.NewKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &world{t: t, path: filepath.Join(t.TempDir(), "t.db"), key: k,
		clock: testclock.New(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))}
}

// instance starts one service over the world's database, like one process.
func (w *world) instance(o auth.Options) (*auth.Service, *sqlite.DB) {
	w.t.Helper()
	db, err := sqlite.Open(context.Background(), w.path)
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { db.Close() })
	o.Hasher = password.New(password.Params{Time: 1, MemoryKiB: 1024, Threads: 1, KeyLen: 32, SaltLen: 16}, 0)
	o.Keys = seal.NewRing(w.key)
	o.Now = w.clock.Now
	s, err := auth.New(db, o)
	if err != nil {
		w.t.Fatal(err)
	}
	return s, db
}

var firefox = auth.Client{IP: "192.0.2.1", UserAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"}

func lockAlert() auth.Alert {
	return auth.Alert{Type: auth.Event2FALocked, Subject: "Your account is locked", What: "Second-factor sign-in is locked", Detail: map[string]any{"seconds": 900}}
}

func TestAlertQueuedBeforeACrashIsSentAfterRestart(t *testing.T) {
	w := newWorld(t)
	a, _ := w.instance(auth.Options{Notifier: &recorder{}})
	reg, err := a.Register(t.Context(), firefox, "crash@example.com", "a long password")
	if err != nil {
		t.Fatal(err)
	}
	// Process A queues the alert and dies before its worker runs.
	a.RaiseAlert(t.Context(), reg.User, firefox, lockAlert())

	rec := &recorder{}
	b, _ := w.instance(auth.Options{Notifier: rec})
	n, err := b.DeliverDue(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 || len(rec.messages("email")) != 1 {
		t.Fatalf("after restart: sent %d, emails %d; want the one alert", n, len(rec.messages("email")))
	}
	if m := rec.messages("email")[0]; m.To != "crash@example.com" || !strings.Contains(m.Subject, "locked") {
		t.Errorf("alert: to %q subject %q", m.To, m.Subject)
	}
	if n, _ := b.DeliverDue(t.Context()); n != 0 {
		t.Errorf("sent again on the next run: %d", n)
	}
}

func TestAlertClaimedByACrashedWorkerIsSentWhenItsLeaseEnds(t *testing.T) {
	w := newWorld(t)
	a, db := w.instance(auth.Options{Notifier: &recorder{}})
	reg, err := a.Register(t.Context(), firefox, "lease@example.com", "a long password")
	if err != nil {
		t.Fatal(err)
	}
	a.RaiseAlert(t.Context(), reg.User, firefox, lockAlert())
	// Process A claims the alert and dies mid-send.
	now := w.clock.Now()
	ds, err := db.ClaimDeliveries(t.Context(), "process-a", now, now.Add(time.Minute), 10)
	if err != nil || len(ds) != 1 {
		t.Fatalf("claim: %v, %d rows", err, len(ds))
	}
	rec := &recorder{}
	b, _ := w.instance(auth.Options{Notifier: rec})
	if n, _ := b.DeliverDue(t.Context()); n != 0 {
		t.Fatalf("sent while another worker held the lease")
	}
	w.clock.Advance(time.Minute)
	if n, err := b.DeliverDue(t.Context()); err != nil || n != 1 {
		t.Fatalf("after the lease ended: sent %d (%v), want 1", n, err)
	}
}

func TestFailedAlertIsRetriedWithExponentialBackoff(t *testing.T) {
	w := newWorld(t)
	rec := &recorder{fail: func(try int, m notify.Message) error {
		if try <= 3 {
			return errors.New("smtp: 451 try again later")
		}
		return nil
	}}
	outcomes := map[string]int{}
	s, _ := w.instance(auth.Options{Notifier: rec, OnDelivery: func(channel, outcome string) { outcomes[channel+" "+outcome]++ }})
	reg, err := s.Register(t.Context(), firefox, "retry@example.com", "a long password")
	if err != nil {
		t.Fatal(err)
	}
	s.RaiseAlert(t.Context(), reg.User, firefox, lockAlert())
	run := func() int {
		n, err := s.DeliverDue(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	// Attempt 1 fails at once; then waits of 30 s, 60 s, 120 s.
	run()
	for i, wait := range []time.Duration{30 * time.Second, 60 * time.Second, 120 * time.Second} {
		w.clock.Advance(wait - time.Second)
		before := rec.tries
		run()
		if rec.tries != before {
			t.Fatalf("retry %d came %v early", i+1, time.Second)
		}
		w.clock.Advance(time.Second)
		run()
		if rec.tries != before+1 {
			t.Fatalf("retry %d: tries got %d, want %d", i+1, rec.tries, before+1)
		}
	}
	if got := len(rec.messages("email")); got != 1 {
		t.Errorf("emails delivered: got %d, want 1", got)
	}
	if outcomes["email retry"] != 3 || outcomes["email sent"] != 1 || len(outcomes) != 2 {
		t.Errorf("delivery outcomes reported: got %v, want 3 retries and 1 sent", outcomes)
	}
}

func TestPermanentlyFailedAlertIsNotRetried(t *testing.T) {
	w := newWorld(t)
	rec := &recorder{fail: func(int, notify.Message) error { return notify.Permanent(errors.New("550 no such user")) }}
	s, _ := w.instance(auth.Options{Notifier: rec})
	reg, err := s.Register(t.Context(), firefox, "perm@example.com", "a long password")
	if err != nil {
		t.Fatal(err)
	}
	s.RaiseAlert(t.Context(), reg.User, firefox, lockAlert())
	_, _ = s.DeliverDue(t.Context())
	w.clock.Advance(48 * time.Hour)
	_, _ = s.DeliverDue(t.Context())
	if rec.tries != 1 {
		t.Errorf("tries: got %d, want 1", rec.tries)
	}
}

func TestWorkerSendsWhenWokenAndStopsOnCancel(t *testing.T) {
	w := newWorld(t)
	rec := &recorder{sent: make(chan notify.Message, 10)}
	never := make(chan time.Time)
	s, _ := w.instance(auth.Options{Notifier: rec, After: func(time.Duration) <-chan time.Time { return never }})
	reg, err := s.Register(t.Context(), firefox, "wake@example.com", "a long password")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.RunDeliveries(ctx); close(done) }()
	s.RaiseAlert(t.Context(), reg.User, firefox, lockAlert())
	select {
	case m := <-rec.sent:
		if m.To != "wake@example.com" {
			t.Errorf("sent to %q", m.To)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the worker did not send the alert it was woken for")
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the worker did not stop when its context ended")
	}
}

func TestAlertMessages(t *testing.T) {
	w := newWorld(t)
	rec := &recorder{}
	s, _ := w.instance(auth.Options{Notifier: rec, Webhook: true, PublicURL: "https://auth.example.com", Issuer: "Acme"})
	reg, err := s.Register(t.Context(), firefox, "msg@example.com", "a long password")
	if err != nil {
		t.Fatal(err)
	}
	s.RaiseAlert(t.Context(), reg.User, firefox, lockAlert())
	if _, err := s.DeliverDue(t.Context()); err != nil {
		t.Fatal(err)
	}

	t.Run("EmailSaysWhatWhenWhereAndWhatToDo", func(t *testing.T) {
		ms := rec.messages("email")
		if len(ms) != 1 {
			t.Fatalf("emails: got %d, want 1", len(ms))
		}
		m := ms[0]
		if m.Subject != "[Acme] Your account is locked" {
			t.Errorf("subject: got %q", m.Subject)
		}
		for _, want := range []string{
			"Second-factor sign-in is locked on your Acme account (msg@example.com)",
			"When: 2026-11-26 12:00:00 UTC", "IP address: 192.0.2.1", "Browser: Firefox on Linux",
			"If it was not you, change your password now", "https://auth.example.com/settings",
		} {
			if !strings.Contains(m.Body, want) {
				t.Errorf("body lacks %q:\n%s", want, m.Body)
			}
		}
	})
	t.Run("WebhookHasTheSpecFields", func(t *testing.T) {
		ms := rec.messages("webhook")
		if len(ms) != 1 {
			t.Fatalf("webhook messages: got %d, want 1", len(ms))
		}
		var doc struct {
			ID, Type, Time string
			User           struct{ ID, Email string }
			IP             string
			UserAgent      string `json:"user_agent"`
			Detail         map[string]any
		}
		if err := json.Unmarshal([]byte(ms[0].Body), &doc); err != nil {
			t.Fatalf("webhook body is not JSON: %v", err)
		}
		if doc.ID == "" || doc.Type != "2fa.locked" || doc.Time != "2026-11-26T12:00:00Z" ||
			doc.User.ID != reg.User.ID || doc.User.Email != "msg@example.com" ||
			doc.IP != firefox.IP || doc.UserAgent != firefox.UserAgent || doc.Detail["seconds"] != float64(900) {
			t.Errorf("webhook document: %s", ms[0].Body)
		}
	})
}

func TestNewSignInAlerts(t *testing.T) {
	w := newWorld(t)
	rec := &recorder{}
	s, _ := w.instance(auth.Options{Notifier: rec})
	ctx := t.Context()
	if _, err := s.Register(ctx, firefox, "seen@example.com", "a long password"); err != nil {
		t.Fatal(err)
	}
	newSignIns := func() int {
		if _, err := s.DeliverDue(ctx); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, m := range rec.messages("email") {
			if strings.Contains(m.Subject, "New sign-in") {
				n++
			}
		}
		return n
	}
	login := func(c auth.Client) {
		t.Helper()
		if _, err := s.Login(ctx, c, "seen@example.com", "a long password"); err != nil {
			t.Fatal(err)
		}
	}
	chrome := auth.Client{IP: "192.0.2.1", UserAgent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"}
	newerFirefox := firefox
	newerFirefox.UserAgent = strings.ReplaceAll(firefox.UserAgent, "133.0", "134.0")
	steps := []struct {
		name string
		c    auth.Client
		want int
	}{
		{"RegistrationDoesNotAlert", auth.Client{}, 0},
		{"KnownDeviceAndIPDoNotAlert", firefox, 0},
		{"BrowserUpdateDoesNotAlert", newerFirefox, 0},
		{"NewIPAlerts", auth.Client{IP: "198.51.100.7", UserAgent: firefox.UserAgent}, 1},
		{"NewBrowserAlerts", chrome, 2},
		{"SameIPv6PrefixDoesNotAlertTwice", auth.Client{IP: "2001:db8:1:2::1", UserAgent: firefox.UserAgent}, 3},
		{"OtherHostInTheIPv6Prefix", auth.Client{IP: "2001:db8:1:2::99", UserAgent: firefox.UserAgent}, 3},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if st.c != (auth.Client{}) {
				login(st.c)
			}
			if got := newSignIns(); got != st.want {
				t.Errorf("new sign-in alerts so far: got %d, want %d", got, st.want)
			}
		})
	}
}

func TestUserAgentFamily(t *testing.T) {
	for ua, want := range map[string]string{
		"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1": "Safari on iOS",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0":     "Edge on macOS",
		"Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36":                            "Chrome on Android",
		"curl/8.5.0": "curl on other system",
		"":           "Unknown browser",
	} {
		if got := auth.UserAgentFamily(ua); got != want {
			t.Errorf("UserAgentFamily(%q): got %q, want %q", ua, got, want)
		}
	}
}

func TestShutdownHandsBackClaimedDeliveries(t *testing.T) {
	w := newWorld(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first := &recorder{fail: func(int, notify.Message) error { cancel(); return nil }}
	a, _ := w.instance(auth.Options{Notifier: first})
	reg, err := a.Register(t.Context(), firefox, "shutdown@example.com", "a long password")
	if err != nil {
		t.Fatal(err)
	}
	a.RaiseAlert(t.Context(), reg.User, firefox, lockAlert())
	a.RaiseAlert(t.Context(), reg.User, firefox, lockAlert())
	// The first send "receives SIGTERM": the second alert, claimed in the
	// same batch, must not stay leased to the stopping process.
	if n, _ := a.DeliverDue(ctx); n != 1 {
		t.Fatalf("sent before shutdown: got %d, want 1", n)
	}
	rec := &recorder{}
	b, _ := w.instance(auth.Options{Notifier: rec})
	if n, err := b.DeliverDue(t.Context()); err != nil || n != 1 {
		t.Errorf("another instance sent %d (%v), want the released alert at once", n, err)
	}
}

func TestCounterRegressionAlert(t *testing.T) {
	w := newWorld(t)
	rec := &recorder{}
	s, _ := w.instance(auth.Options{Notifier: rec, Webhook: true})
	reg, err := s.Register(t.Context(), firefox, "clone@example.com", "a long password")
	if err != nil {
		t.Fatal(err)
	}
	s.AlertCounterRegressed(t.Context(), reg.User, firefox, "cred1", "YubiKey")
	if _, err := s.DeliverDue(t.Context()); err != nil {
		t.Fatal(err)
	}
	// The key's name (chosen by whoever registered it) is in the webhook, not the email.
	if ms := rec.messages("email"); len(ms) != 1 || strings.Contains(ms[0].Body, "YubiKey") || !strings.Contains(ms[0].Body, "copied") {
		t.Errorf("counter regression email: %+v", ms)
	}
	if ms := rec.messages("webhook"); len(ms) != 1 || !strings.Contains(ms[0].Body, `"type":"webauthn.counter_regressed"`) || !strings.Contains(ms[0].Body, `"name":"YubiKey"`) {
		t.Errorf("counter regression webhook: %+v", ms)
	}
}

// TestAlertEmailsCarryNoTextAClientChose: whoever registers an address can
// raise alerts to it, so an email from the operator's sender quotes no
// factor name and no User-Agent (the webhook has them).
func TestAlertEmailsCarryNoTextAClientChose(t *testing.T) {
	ctx := t.Context()
	rec := &recorder{}
	s, _ := newService(t, auth.Options{Notifier: rec, PublicURL: "https://auth.example.com", Webhook: true})
	c := auth.Client{IP: "198.51.100.7", UserAgent: "Mozilla/5.0 Firefox/140.0 CALL IT: https://evil.example/ua"}
	signUpWithApp(t, s, c, "ceo@victim.example", "IT: verify at https://evil.example/x")
	if _, err := s.DeliverDue(ctx); err != nil {
		t.Fatal(err)
	}
	mails := rec.messages(notify.ChannelEmail)
	if len(mails) == 0 {
		t.Fatal("no alert email for a new authenticator app")
	}
	for _, m := range mails {
		if strings.Contains(m.Subject+m.Body, "evil.example") {
			t.Errorf("an alert email quotes text the client chose:\n%s", m.Body)
		}
		if !strings.Contains(m.Body, "Browser: Firefox on other system") {
			t.Errorf("an alert email lacks the browser's family:\n%s", m.Body)
		}
	}
	hooks := rec.messages(notify.ChannelWebhook)
	if len(hooks) == 0 || !strings.Contains(hooks[0].Body, "https://evil.example/x") {
		t.Errorf("the webhook lost the app's name (the operator's systems may want it)")
	}
}
