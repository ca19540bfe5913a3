package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The webhook headers (SPEC §1).
const (
	HeaderTimestamp = "Twofold-Timestamp"
	HeaderSignature = "Twofold-Signature"
)

// Webhook POSTs security alerts as JSON to one URL, signed so the receiver
// can tell they come from this server and refuse replays: the header
// Twofold-Timestamp holds the unix time of the POST and Twofold-Signature
// is "v1=" + hex(HMAC-SHA256(secret, timestamp + "." + body)).
type Webhook struct {
	url    string
	secret []byte
	now    func() time.Time
	client *http.Client
}

// NewWebhook returns a webhook sender. now and client may be nil.
func NewWebhook(url, secret string, now func() time.Time, client *http.Client) *Webhook {
	if now == nil {
		now = time.Now
	}
	if client == nil {
		client = &http.Client{}
	}
	return &Webhook{url: url, secret: []byte(secret), now: now, client: client}
}

// Send implements Sender for the "webhook" channel: m.Body is the JSON
// document to POST. Every attempt is signed afresh with the current time.
func (w *Webhook) Send(ctx context.Context, m Message) error {
	body := []byte(m.Body)
	ts := w.now().Unix()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return Permanent(fmt.Errorf("webhook: %w", err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "twofold-webhook/1")
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Sign(w.secret, ts, body))
	res, err := w.client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook: %w", withoutURL(err))
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	if res.StatusCode >= 200 && res.StatusCode < 300 {
		return nil
	}
	// Any refusal is retried: the receiver may be down, misconfigured for a
	// while, or rejecting a stale timestamp that the next attempt renews.
	return fmt.Errorf("webhook: HTTP %d", res.StatusCode)
}

// Sign returns the Twofold-Signature value for body sent at unix time ts.
func Sign(secret []byte, ts int64, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(strconv.FormatInt(ts, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return "v1=" + hex.EncodeToString(m.Sum(nil))
}

// Errors of VerifyWebhook.
var (
	ErrBadSignature = errors.New("webhook signature does not match")
	ErrStale        = errors.New("webhook timestamp is too old or in the future")
)

// VerifyWebhook checks a delivery as a receiver should: the signature must
// match the timestamp and the exact body, and the timestamp must be within
// tolerance of now, so a captured delivery cannot be replayed later. (To
// refuse a replay within the tolerance too, remember the "id" of each
// delivery seen in the last tolerance and refuse repeats.)
func VerifyWebhook(secret []byte, timestamp, signature string, body []byte, now time.Time, tolerance time.Duration) error {
	ts, err := strconv.ParseInt(strings.TrimSpace(timestamp), 10, 64)
	if err != nil {
		return ErrBadSignature
	}
	want := Sign(secret, ts, body)
	ok := false
	for _, s := range strings.Split(signature, ",") {
		if hmac.Equal([]byte(strings.TrimSpace(s)), []byte(want)) {
			ok = true
		}
	}
	if !ok {
		return ErrBadSignature
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return ErrStale
	}
	return nil
}
