package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/twofold-auth/twofold/internal/auth"
	"github.com/twofold-auth/twofold/internal/config"
	"github.com/twofold-auth/twofold/internal/notify"
)

// channels builds the delivery channels from the settings: the dev outbox
// for email and SMS unless SMTP or Twilio is configured, and the webhook
// when its URL is set.
func channels(cfg config.Config) (notify.Channels, error) {
	outbox := notify.NewOutbox(cfg.OutboxFile(), nil)
	ch := notify.Channels{Email: outbox, SMS: outbox}
	// Each send is bounded by the worker's context; this only caps a
	// provider that trickles its answer.
	// A redirect is a failure to retry, not something to follow: a 301/302
	// would turn the POST into a bodiless GET that "succeeds", and a 307/308
	// would re-post the signed body to wherever the answer points.
	client := &http.Client{
		Timeout:       time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	if cfg.SMTPURL != nil {
		s, err := notify.NewSMTP(cfg.SMTPURL, cfg.SMTPFrom)
		if err != nil {
			return ch, usageError{fmt.Sprintf("TWOFOLD_SMTP_URL (--smtp-url): %v", err)}
		}
		ch.Email = s
	}
	if cfg.SMSProvider == "twilio" {
		ch.SMS = notify.NewTwilio(cfg.TwilioAPIURL, cfg.TwilioAccountSID, cfg.TwilioAuthToken, cfg.TwilioFrom, client)
	}
	if cfg.WebhookURL != "" {
		ch.Webhook = notify.NewWebhook(cfg.WebhookURL, cfg.WebhookSecret, nil, client)
	}
	return ch, nil
}

// startDeliveries runs the delivery worker until ctx ends; the returned
// function waits for it to stop (a send in progress is finished first).
func startDeliveries(ctx context.Context, svc *auth.Service, log *slog.Logger) (wait func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		svc.RunDeliveries(ctx)
	}()
	log.Debug("delivery worker started")
	return func() { <-done }
}
