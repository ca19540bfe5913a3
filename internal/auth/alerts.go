package auth

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/twofold-auth/twofold/internal/notify"
)

// Alert is a security alert: something that happened to an account, told
// to its owner by email and, when one is set, to the webhook.
type Alert struct {
	// Type names what happened for the webhook: the event type that raised
	// the alert (2fa.locked, totp.enabled, ...) or AlertNewSignIn.
	Type string
	// Subject is the email's subject, without the issuer prefix.
	Subject string
	// What says what happened, as one sentence without a final period.
	What string
	// Detail is non-secret detail for the webhook.
	Detail map[string]any
}

// AlertNewSignIn is the type of the alert about a sign-in from a device or
// IP address not seen before for that user.
const AlertNewSignIn = "login.new_device"

// RaiseAlert queues a security alert about u, raised by a request from c:
// an email to the user and, when a webhook is set, a signed POST to it. It
// is the one path every alert takes; a failure is logged, and an alert never
// blocks the action it reports.
func (s *Service) RaiseAlert(ctx context.Context, u User, c Client, a Alert) {
	if s.notifier == nil {
		return
	}
	ctx = context.WithoutCancel(ctx) // a client hanging up must not suppress an alert
	now := s.now()
	msgs := []notify.Message{{
		Channel: notify.ChannelEmail, To: u.Email,
		Subject: "[" + s.issuer + "] " + a.Subject, Body: s.alertText(u, c, a, now),
	}}
	if s.webhook {
		body, err := json.Marshal(webhookAlert(s.newID(now), u, c, a, now))
		if err != nil {
			s.log.ErrorContext(ctx, "encode webhook alert", "type", a.Type, "err", err)
		} else {
			msgs = append(msgs, notify.Message{Channel: notify.ChannelWebhook, Subject: a.Type, Body: string(body)})
		}
	}
	for _, m := range msgs {
		if err := s.enqueue(ctx, m); err != nil {
			s.log.ErrorContext(ctx, "queue alert", "type", a.Type, "channel", m.Channel, "user_id", u.ID, "err", err)
		}
	}
}

// AlertCounterRegressed raises the alert for a security key whose signature
// counter went backwards (a sign that it may have been cloned).
func (s *Service) AlertCounterRegressed(ctx context.Context, u User, c Client, credentialID, name string) {
	s.RaiseAlert(ctx, u, c, Alert{
		Type:    EventWebAuthnRegressed,
		Subject: "A security key may have been copied",
		What:    "One of your security keys or passkeys answered with a signature counter lower than before, which can mean it was copied; the sign-in was refused",
		Detail:  map[string]any{"id": credentialID, "name": name},
	})
}

// alertText is the email: what happened, when, from where, and what to do
// if it was not them. Nothing in it is text a client chose: no factor
// names, no User-Agent (Alert.What never quotes them; the webhook's detail
// has the names).
func (s *Service) alertText(u User, c Client, a Alert, now time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s on your %s account (%s).\n\n", a.What, s.issuer, u.Email)
	fmt.Fprintf(&b, "When: %s\n", now.UTC().Format("2006-01-02 15:04:05 UTC"))
	fmt.Fprintf(&b, "IP address: %s\n", orUnknown(c.IP))
	// The browser's family and system from a fixed list, never the
	// User-Agent itself: an email from the operator's own sender must not
	// carry text a client chose (whoever registered an address can raise
	// alerts to it). The webhook has the whole header.
	fmt.Fprintf(&b, "Browser: %s\n\n", UserAgentFamily(c.UserAgent))
	b.WriteString("If this was you, there is nothing to do.\n")
	b.WriteString("If it was not you, change your password now and review your second factors")
	if s.publicURL != "" {
		fmt.Fprintf(&b, " at %s/settings", strings.TrimRight(s.publicURL, "/"))
	}
	b.WriteString(", or contact your administrator.\n")
	return b.String()
}

// webhookJSON is the webhook document of SPEC §1.
type webhookJSON struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	Time string `json:"time"`
	User struct {
		ID    string `json:"id"`
		Email string `json:"email"`
	} `json:"user"`
	IP        string         `json:"ip"`
	UserAgent string         `json:"user_agent"`
	Detail    map[string]any `json:"detail"`
}

func webhookAlert(id string, u User, c Client, a Alert, now time.Time) webhookJSON {
	w := webhookJSON{ID: id, Type: a.Type, Time: now.UTC().Format(time.RFC3339), IP: truncate(c.IP, 64), UserAgent: truncate(c.UserAgent, 512), Detail: maps.Clone(a.Detail)}
	w.User.ID, w.User.Email = u.ID, u.Email
	if w.Detail == nil {
		w.Detail = map[string]any{}
	}
	w.Detail["summary"] = a.What
	return w
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
