package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// DefaultTwilioURL is the Twilio API's base URL.
const DefaultTwilioURL = "https://api.twilio.com"

// Twilio sends SMS through the Twilio Messages API, or any API that speaks
// it: a form POST to {base}/2010-04-01/Accounts/{SID}/Messages.json with
// basic auth SID:token and the fields To, From and Body.
type Twilio struct {
	endpoint   string
	sid, token string
	from       string
	client     *http.Client
}

// NewTwilio returns a Twilio sender. base is the API's base URL
// (DefaultTwilioURL when empty); client may be nil (a client without a
// timeout: callers bound each send with their context).
func NewTwilio(base, sid, token, from string, client *http.Client) *Twilio {
	if base == "" {
		base = DefaultTwilioURL
	}
	if client == nil {
		client = &http.Client{}
	}
	return &Twilio{
		endpoint: strings.TrimRight(base, "/") + "/2010-04-01/Accounts/" + url.PathEscape(sid) + "/Messages.json",
		sid:      sid, token: token, from: from, client: client,
	}
}

// Send implements Sender for the "sms" channel. A 4xx answer other than 408
// and 429 is a permanent error (a bad number, bad credentials): retrying
// the same request cannot succeed.
func (t *Twilio) Send(ctx context.Context, m Message) error {
	form := url.Values{"To": {m.To}, "From": {t.from}, "Body": {m.Body}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return Permanent(fmt.Errorf("twilio: %w", err))
	}
	req.SetBasicAuth(t.sid, t.token)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	res, err := t.client.Do(req)
	if err != nil {
		return fmt.Errorf("twilio: %w", withoutURL(err))
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(res.Body, 8<<10))
	if res.StatusCode >= 200 && res.StatusCode < 300 {
		return nil
	}
	// Twilio's error body carries a numeric code; its message may repeat the
	// phone number, so only the code is kept.
	var body struct {
		Code int `json:"code"`
	}
	_ = json.Unmarshal(raw, &body)
	err = fmt.Errorf("twilio: HTTP %d (error code %d)", res.StatusCode, body.Code)
	if res.StatusCode >= 400 && res.StatusCode < 500 && res.StatusCode != http.StatusRequestTimeout && res.StatusCode != http.StatusTooManyRequests {
		return Permanent(err)
	}
	return err
}
