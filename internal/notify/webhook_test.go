package notify_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/twofold-auth/twofold/internal/notify"
)

// receiver is a webhook receiver that verifies as the docs tell receivers to.
type receiver struct {
	secret []byte
	now    func() time.Time
	got    []string
	errs   []error
	// raw keeps the last delivery's timestamp, signature and body, to replay.
	ts, sig string
	body    []byte
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.ts, rc.sig, rc.body = r.Header.Get(notify.HeaderTimestamp), r.Header.Get(notify.HeaderSignature), body
	if err := notify.VerifyWebhook(rc.secret, rc.ts, rc.sig, body, rc.now(), 5*time.Minute); err != nil {
		rc.errs = append(rc.errs, err)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	rc.got = append(rc.got, string(body))
	w.WriteHeader(http.StatusNoContent)
}

func TestWebhook(t *testing.T) {
	sendAt := time.Unix(1_790_000_000, 0)
	body := `{"id":"a1","type":"2fa.locked","time":"2026-09-21T12:53:20Z","user":{"id":"u1","email":"a@example.com"},"ip":"192.0.2.1","user_agent":"x","detail":{}}`

	t.Run("ReceiverVerifiesTheSignature", func(t *testing.T) {
		rc := &receiver{secret: []byte("whsec"), now: func() time.Time { return sendAt.Add(2 * time.Second) }}
		srv := httptest.NewServer(rc)
		defer srv.Close()
		wh := notify.NewWebhook(srv.URL, "whsec", func() time.Time { return sendAt }, nil)
		if err := wh.Send(context.Background(), notify.Message{Channel: "webhook", Body: body}); err != nil {
			t.Fatalf("send: %v (receiver errors %v)", err, rc.errs)
		}
		if len(rc.got) != 1 || rc.got[0] != body {
			t.Fatalf("receiver got %q, want the body once", rc.got)
		}
		if rc.ts != "1790000000" {
			t.Errorf("timestamp header: got %q, want 1790000000", rc.ts)
		}
		if want := notify.Sign([]byte("whsec"), 1_790_000_000, []byte(body)); rc.sig != want {
			t.Errorf("signature header: got %q, want %q", rc.sig, want)
		}

		t.Run("ReplayOfAnOldTimestampIsRefused", func(t *testing.T) {
			err := notify.VerifyWebhook(rc.secret, rc.ts, rc.sig, rc.body, sendAt.Add(6*time.Minute), 5*time.Minute)
			if !errors.Is(err, notify.ErrStale) {
				t.Errorf("replay 6 minutes later: got %v, want ErrStale", err)
			}
		})
		t.Run("ChangedBodyOrTimestampIsRefused", func(t *testing.T) {
			err := notify.VerifyWebhook(rc.secret, rc.ts, rc.sig, append([]byte(nil), append(rc.body, ' ')...), sendAt, 5*time.Minute)
			if !errors.Is(err, notify.ErrBadSignature) {
				t.Errorf("changed body: got %v, want ErrBadSignature", err)
			}
			err = notify.VerifyWebhook(rc.secret, "1790000100", rc.sig, rc.body, sendAt.Add(100*time.Second), 5*time.Minute)
			if !errors.Is(err, notify.ErrBadSignature) {
				t.Errorf("fresh timestamp on an old signature: got %v, want ErrBadSignature", err)
			}
			err = notify.VerifyWebhook([]byte("other"), rc.ts, rc.sig, rc.body, sendAt, 5*time.Minute)
			if !errors.Is(err, notify.ErrBadSignature) {
				t.Errorf("wrong secret: got %v, want ErrBadSignature", err)
			}
		})
	})

	t.Run("UnreachableReceiverErrorHidesTheURL", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		srv.Close() // nothing listens there now
		err := notify.NewWebhook(srv.URL+"/hook?token=url-secret", "whsec", nil, nil).
			Send(context.Background(), notify.Message{Channel: "webhook", Body: body})
		if err == nil || notify.IsPermanent(err) {
			t.Fatalf("send to a closed port: got %v, want a retryable error", err)
		}
		if strings.Contains(err.Error(), "url-secret") {
			t.Errorf("the error repeats the webhook URL and its token")
		}
	})

	t.Run("WrongSecretIsRefusedByTheReceiverAndRetried", func(t *testing.T) {
		rc := &receiver{secret: []byte("whsec"), now: func() time.Time { return sendAt }}
		srv := httptest.NewServer(rc)
		defer srv.Close()
		err := notify.NewWebhook(srv.URL, "not-the-secret", func() time.Time { return sendAt }, nil).
			Send(context.Background(), notify.Message{Channel: "webhook", Body: body})
		if err == nil || notify.IsPermanent(err) {
			t.Errorf("send refused by the receiver: got %v, want a retryable error", err)
		}
		if len(rc.got) != 0 {
			t.Errorf("receiver accepted a delivery with a wrong signature")
		}
	})
}

func TestChannelsRoutesByChannel(t *testing.T) {
	var got []string
	rec := func(name string) notify.Sender {
		return senderFunc(func(_ context.Context, m notify.Message) error { got = append(got, name+":"+m.Channel); return nil })
	}
	ch := notify.Channels{Email: rec("mail"), SMS: rec("sms")}
	for _, c := range []string{"email", "sms"} {
		if err := ch.Send(context.Background(), notify.Message{Channel: c}); err != nil {
			t.Fatalf("send %s: %v", c, err)
		}
	}
	if len(got) != 2 || got[0] != "mail:email" || got[1] != "sms:sms" {
		t.Errorf("routed: %v", got)
	}
	if err := ch.Send(context.Background(), notify.Message{Channel: "webhook"}); !notify.IsPermanent(err) {
		t.Errorf("send to an unconfigured channel: got %v, want a permanent error", err)
	}
}

type senderFunc func(context.Context, notify.Message) error

func (f senderFunc) Send(ctx context.Context, m notify.Message) error { return f(ctx, m) }
