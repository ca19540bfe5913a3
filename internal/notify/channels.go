package notify

import (
	"context"
	"errors"
	"fmt"
	"net/url"
)

// The channels a Message can take.
const (
	ChannelEmail   = "email"
	ChannelSMS     = "sms"
	ChannelWebhook = "webhook"
)

// permanentError marks a failure that retrying cannot fix.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err as a failure that retrying cannot fix (a refused
// recipient, a channel that is not configured), so a queue gives up at once.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// withoutURL drops the URL from an HTTP client error: a webhook URL may
// carry a token in its query, and errors end up in logs.
func withoutURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

// Channels routes each message to the sender of its channel. A channel left
// nil refuses its messages with a permanent error.
type Channels struct {
	Email   Sender
	SMS     Sender
	Webhook Sender
}

// Send implements Sender.
func (c Channels) Send(ctx context.Context, m Message) error {
	var s Sender
	switch m.Channel {
	case ChannelEmail:
		s = c.Email
	case ChannelSMS:
		s = c.SMS
	case ChannelWebhook:
		s = c.Webhook
	}
	if s == nil {
		return Permanent(fmt.Errorf("no %q channel is configured", m.Channel))
	}
	return s.Send(ctx, m)
}

// Has reports whether channel has a sender.
func (c Channels) Has(channel string) bool {
	switch channel {
	case ChannelEmail:
		return c.Email != nil
	case ChannelSMS:
		return c.SMS != nil
	case ChannelWebhook:
		return c.Webhook != nil
	}
	return false
}
