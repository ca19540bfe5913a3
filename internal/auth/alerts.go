package auth

import (
	"context"
	"fmt"
	"strings"

	"github.com/twofold-auth/twofold/internal/notify"
)

// alert emails the user about a security-relevant change: what happened,
// when, from where, and what to do if it was not them. Failures are logged;
// an alert never blocks the action it reports.
func (s *Service) alert(ctx context.Context, u User, c Client, subject, what string) {
	if s.notifier == nil {
		return
	}
	ctx = context.WithoutCancel(ctx) // a client hanging up must not suppress an alert
	var b strings.Builder
	fmt.Fprintf(&b, "%s on your %s account (%s).\n\n", what, s.issuer, u.Email)
	fmt.Fprintf(&b, "When: %s\n", s.now().UTC().Format("2006-01-02 15:04:05 UTC"))
	fmt.Fprintf(&b, "IP address: %s\n", orUnknown(c.IP))
	fmt.Fprintf(&b, "Browser: %s\n\n", orUnknown(truncate(c.UserAgent, 200)))
	b.WriteString("If this was you, there is nothing to do.\n")
	b.WriteString("If it was not you, change your password now and review your second factors")
	if s.publicURL != "" {
		fmt.Fprintf(&b, " at %s/settings", strings.TrimRight(s.publicURL, "/"))
	}
	b.WriteString(", or contact your administrator.\n")
	m := notify.Message{Channel: "email", To: u.Email, Subject: "[" + s.issuer + "] " + subject, Body: b.String()}
	if err := s.notifier.Send(ctx, m); err != nil {
		s.log.ErrorContext(ctx, "send alert", "subject", subject, "user_id", u.ID, "err", err)
	}
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
