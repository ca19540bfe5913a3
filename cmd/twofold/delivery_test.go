package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"regexp"
	"testing"
	"time"

	"github.com/twofold-auth/twofold/internal/notify"
)

// TestServeSendsThroughTwilioAndTheWebhook wires a real server to a fake
// Twilio API and a webhook receiver that verifies signatures.
func TestServeSendsThroughTwilioAndTheWebhook(t *testing.T) {
	codes := make(chan string, 10)
	twilio := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, _ := r.BasicAuth()
		if r.Method != "POST" || r.URL.Path != "/2010-04-01/Accounts/AC42/Messages.json" || user != "AC42" || pass != "twilio-token" {
			http.Error(w, `{"code":20003}`, http.StatusUnauthorized)
			return
		}
		_ = r.ParseForm()
		codes <- regexp.MustCompile(`\d{6}`).FindString(r.PostForm.Get("Body"))
		w.WriteHeader(http.StatusCreated)
	}))
	defer twilio.Close()

	type hook struct{ Type, User string }
	hooks := make(chan hook, 10)
	webhook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := notify.VerifyWebhook([]byte("hook-secret"), r.Header.Get(notify.HeaderTimestamp), r.Header.Get(notify.HeaderSignature), body, time.Now(), 5*time.Minute); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var doc struct {
			Type string
			User struct{ Email string }
		}
		_ = json.Unmarshal(body, &doc)
		hooks <- hook{doc.Type, doc.User.Email}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer webhook.Close()

	inst := start(t, map[string]string{
		"TWOFOLD_DATA_DIR":           t.TempDir(),
		"TWOFOLD_SMS_PROVIDER":       "twilio",
		"TWOFOLD_TWILIO_ACCOUNT_SID": "AC42",
		"TWOFOLD_TWILIO_AUTH_TOKEN":  "twilio-token",
		"TWOFOLD_TWILIO_FROM":        "+15005550006",
		"TWOFOLD_TWILIO_API_URL":     twilio.URL,
		"TWOFOLD_WEBHOOK_URL":        webhook.URL,
		"TWOFOLD_WEBHOOK_SECRET":     "hook-secret",
	})
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	if res := post(t, c, inst.URL+"/api/register", `{"email":"wired@example.com","password":"wired-password"}`); res.StatusCode != 201 {
		t.Fatalf("register: got %d", res.StatusCode)
	}
	if res := post(t, c, inst.URL+"/api/sms/setup", `{"phone":"+14155550123"}`); res.StatusCode != 202 {
		t.Fatalf("sms setup: got %d", res.StatusCode)
	}
	var code string
	select {
	case code = <-codes:
	case <-time.After(10 * time.Second):
		t.Fatal("the fake Twilio API got no message")
	}
	if res := post(t, c, inst.URL+"/api/sms/verify-setup", `{"code":"`+code+`"}`); res.StatusCode != 200 {
		t.Fatalf("sms verify-setup: got %d", res.StatusCode)
	}
	select {
	case h := <-hooks:
		if h.Type != "sms.enabled" || h.User != "wired@example.com" {
			t.Errorf("webhook: got %+v, want sms.enabled for wired@example.com", h)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the webhook got no verified alert")
	}
	inst.stop()
	if inst.Err != nil {
		t.Errorf("serve stopped with %v", inst.Err)
	}
}
