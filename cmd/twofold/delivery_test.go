package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/twofold-auth/twofold/internal/config"
	"github.com/twofold-auth/twofold/internal/notify"
)

func TestWebhookRedirectIsAFailureNotFollowed(t *testing.T) {
	var followed atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		followed.Add(1)
	}))
	defer target.Close()
	for _, code := range []int{http.StatusFound, http.StatusPermanentRedirect} {
		redirecting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target.URL, code)
		}))
		cfg, err := config.Parse("serve", nil, func(k string) string {
			return map[string]string{
				"TWOFOLD_DATA_DIR":       t.TempDir(),
				"TWOFOLD_WEBHOOK_URL":    redirecting.URL,
				"TWOFOLD_WEBHOOK_SECRET": "whsec",
			}[k]
		}, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		ch, err := channels(cfg)
		if err != nil {
			t.Fatal(err)
		}
		err = ch.Send(context.Background(), notify.Message{Channel: notify.ChannelWebhook, Body: `{"id":"1"}`})
		redirecting.Close()
		if err == nil {
			t.Errorf("HTTP %d: the webhook counted a redirect as delivered", code)
		}
	}
	if n := followed.Load(); n != 0 {
		t.Errorf("the redirect was followed %d times", n)
	}
}
