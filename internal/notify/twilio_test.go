package notify_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/twofold-auth/twofold/internal/notify"
)

func TestTwilio(t *testing.T) {
	sms := notify.Message{Channel: "sms", To: "+14155550123", Body: "Your twofold code to sign in is 123456."}

	t.Run("PostsTheMessagesAPIForm", func(t *testing.T) {
		var calls int
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls++
			if r.Method != http.MethodPost {
				t.Errorf("method: got %s, want POST", r.Method)
			}
			if r.URL.Path != "/2010-04-01/Accounts/AC123/Messages.json" {
				t.Errorf("path: got %s", r.URL.Path)
			}
			user, pass, ok := r.BasicAuth()
			if !ok || user != "AC123" || pass != "tok-secret" {
				t.Errorf("basic auth: wrong credentials (present: %v)", ok)
			}
			if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
				t.Errorf("Content-Type: got %q", ct)
			}
			if err := r.ParseForm(); err != nil {
				t.Fatal(err)
			}
			if r.PostForm.Get("To") != sms.To || r.PostForm.Get("From") != "+15005550006" || r.PostForm.Get("Body") != sms.Body {
				t.Errorf("form fields: To %q From %q Body matches: %v", r.PostForm.Get("To"), r.PostForm.Get("From"), r.PostForm.Get("Body") == sms.Body)
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte(`{"sid":"SM1","status":"queued"}`))
		}))
		defer srv.Close()
		tw := notify.NewTwilio(srv.URL+"/", "AC123", "tok-secret", "+15005550006", nil)
		if err := tw.Send(context.Background(), sms); err != nil {
			t.Fatalf("send: %v", err)
		}
		if calls != 1 {
			t.Errorf("calls: got %d, want 1", calls)
		}
	})

	for _, tc := range []struct {
		name      string
		status    int
		permanent bool
	}{
		{"BadRequestIsPermanent", http.StatusBadRequest, true},
		{"UnauthorizedIsPermanent", http.StatusUnauthorized, true},
		{"TooManyRequestsIsRetried", http.StatusTooManyRequests, false},
		{"ServerErrorIsRetried", http.StatusInternalServerError, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(`{"code":21211,"message":"The 'To' number +14155550123 is not valid"}`))
			}))
			defer srv.Close()
			err := notify.NewTwilio(srv.URL, "AC123", "tok-secret", "+15005550006", nil).Send(context.Background(), sms)
			if err == nil {
				t.Fatalf("send: no error for HTTP %d", tc.status)
			}
			if notify.IsPermanent(err) != tc.permanent {
				t.Errorf("permanent: got %v, want %v (%v)", notify.IsPermanent(err), tc.permanent, err)
			}
			for _, secret := range []string{"tok-secret", "+14155550123", "123456"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error text carries a secret or the phone number")
				}
			}
		})
	}

	t.Run("HangingProviderTimesOut", func(t *testing.T) {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			<-release
		}))
		defer srv.Close()
		defer close(release)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		err := notify.NewTwilio(srv.URL, "AC123", "tok-secret", "+15005550006", nil).Send(ctx, sms)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("send to a hanging provider: got %v, want a deadline error", err)
		}
		if notify.IsPermanent(err) {
			t.Errorf("a timeout must be retried, not permanent")
		}
	})
}
