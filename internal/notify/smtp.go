package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"

	mail "github.com/wneessen/go-mail"
)

// SMTP sends email through an SMTP server: smtp:// upgrades with STARTTLS
// when the server offers it, smtps:// speaks TLS from the first byte. With a
// user in the URL it authenticates, choosing the strongest mechanism the
// server offers, and then STARTTLS is required: credentials (even a
// CRAM-MD5 or SCRAM exchange, which can be cracked offline) never travel
// over a connection without TLS, so a network that strips STARTTLS gets
// an error, not the password.
type SMTP struct {
	host string
	port int
	ssl  bool
	user string
	pass string
	from string
	tls  *tls.Config
	now  func() time.Time
}

// SMTPOption configures an SMTP sender.
type SMTPOption func(*SMTP)

// WithTLSConfig sets the TLS configuration, e.g. to trust a private CA (the
// tests trust their own self-signed certificate this way).
func WithTLSConfig(c *tls.Config) SMTPOption {
	return func(s *SMTP) { s.tls = c.Clone() }
}

// WithClock sets the clock used for the Date header.
func WithClock(now func() time.Time) SMTPOption {
	return func(s *SMTP) { s.now = now }
}

// NewSMTP returns a sender for the server at u (smtp:// or smtps://,
// optionally with user:password@; port 587 or 465 when absent) sending from
// the address from.
func NewSMTP(u *url.URL, from string, opts ...SMTPOption) (*SMTP, error) {
	s := &SMTP{host: u.Hostname(), from: from, now: time.Now}
	switch u.Scheme {
	case "smtp":
		s.port = 587
	case "smtps":
		s.port, s.ssl = 465, true
	default:
		return nil, fmt.Errorf("smtp: scheme must be smtp or smtps, not %q", u.Scheme)
	}
	if s.host == "" {
		return nil, errors.New("smtp: the URL names no host")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, errors.New("smtp: bad port")
		}
		s.port = n
	}
	if u.User != nil {
		s.user = u.User.Username()
		s.pass, _ = u.User.Password()
	}
	for _, o := range opts {
		o(s)
	}
	if s.tls == nil {
		s.tls = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if s.tls.ServerName == "" {
		s.tls.ServerName = s.host
	}
	return s, nil
}

// Send implements Sender for the "email" channel.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	msg := mail.NewMsg()
	if err := msg.From(s.from); err != nil {
		return Permanent(fmt.Errorf("smtp: sender address: %w", err))
	}
	if err := msg.To(m.To); err != nil {
		return Permanent(fmt.Errorf("smtp: recipient address: %w", err))
	}
	msg.Subject(m.Subject)
	msg.SetDateWithValue(s.now())
	msg.SetMessageID()
	msg.SetBodyString(mail.TypeTextPlain, m.Body)

	// go-mail sets the connection's deadline once, from this timeout: take
	// it from ctx so that ctx bounds the whole conversation, not only the dial.
	timeout := 30 * time.Second
	if d, ok := ctx.Deadline(); ok {
		timeout = max(time.Until(d), time.Millisecond)
	}
	opts := []mail.Option{
		mail.WithPort(s.port),
		mail.WithTLSConfig(s.tls),
		mail.WithTimeout(timeout),
	}
	switch {
	case s.ssl:
		opts = append(opts, mail.WithSSL())
	case s.user != "":
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	default:
		// A relay without authentication: encrypt when offered (SPEC §1).
		opts = append(opts, mail.WithTLSPolicy(mail.TLSOpportunistic))
	}
	if s.user != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover), mail.WithUsername(s.user), mail.WithPassword(s.pass))
	}
	c, err := mail.NewClient(s.host, opts...)
	if err != nil {
		return Permanent(fmt.Errorf("smtp: %w", err))
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		var se *mail.SendError
		if errors.As(err, &se) && se.Reason == mail.ErrSMTPRcptTo && !se.IsTemp() {
			return Permanent(fmt.Errorf("smtp: %w", err))
		}
		return fmt.Errorf("smtp: %w", err)
	}
	return nil
}
