// Package notify delivers messages to people: security alerts by email and,
// later, codes by SMS, through channels that share one small interface.
package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Message is one message to one recipient.
type Message struct {
	// Channel is "email" or "sms".
	Channel string
	To      string
	Subject string
	Body    string
}

// Sender delivers messages. Implementations: Outbox (development), and
// later SMTP, SMS and webhook senders.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// Outbox is the development sender: it appends each message as one JSON
// line to a file (SPEC §1), so codes and alerts can be read without a mail
// or SMS provider. Safe for concurrent use within one process; each line is
// written with one append-mode write, so processes sharing the file do not
// interleave lines.
type Outbox struct {
	path string
	now  func() time.Time
	mu   sync.Mutex
}

// NewOutbox returns an outbox writing to path. now may be nil (time.Now).
func NewOutbox(path string, now func() time.Time) *Outbox {
	if now == nil {
		now = time.Now
	}
	return &Outbox{path: path, now: now}
}

// Path is the outbox file.
func (o *Outbox) Path() string { return o.path }

type outboxLine struct {
	Time    string `json:"time"`
	Channel string `json:"channel"`
	To      string `json:"to"`
	Subject string `json:"subject"`
	Body    string `json:"body"`
}

// Send implements Sender.
func (o *Outbox) Send(ctx context.Context, m Message) error {
	line, err := json.Marshal(outboxLine{
		Time: o.now().UTC().Format(time.RFC3339), Channel: m.Channel, To: m.To, Subject: m.Subject, Body: m.Body,
	})
	if err != nil {
		return fmt.Errorf("outbox: encode: %w", err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(o.path), 0o700); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	f, err := os.OpenFile(o.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("outbox: write: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("outbox: close: %w", err)
	}
	return nil
}
