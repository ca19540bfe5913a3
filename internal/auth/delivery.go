package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/twofold-auth/twofold/internal/notify"
)

// Delivery is one message in the database's delivery queue. Alerts wait
// there until a worker has sent them (at least once, across restarts and
// crashes); a code is sent at once by the request that made it, and sits in
// the queue only while it is sent, so that a crash mid-send is retried.
type Delivery struct {
	ID string
	// Kind is "alert" or "code".
	Kind    string
	Channel string
	// Payload is the message (recipient, subject, body), sealed: it may hold
	// a code or a phone number.
	Payload   string
	CreatedAt time.Time
	// ExpiresAt is when the message becomes worthless (a code's expiry);
	// zero for alerts.
	ExpiresAt time.Time
	// Attempts counts the sends started, the current one included.
	Attempts int
	// NextAt is when the delivery is next due.
	NextAt time.Time
	// LeaseOwner and LeaseUntil say which worker is sending it, until when.
	LeaseOwner string
	LeaseUntil time.Time
}

// Deliveries stores the delivery queue.
type Deliveries interface {
	// AddDelivery stores d as it is (leased already when d.LeaseOwner is set).
	AddDelivery(ctx context.Context, d Delivery) error
	// ClaimDeliveries leases to owner until leaseUntil up to limit
	// deliveries that are due (NextAt <= now), not given up, not expired
	// (ExpiresAt zero or after now) and not leased (LeaseUntil <= now),
	// adding one to their Attempts, and returns them as claimed, oldest due
	// first. One statement: two workers never claim one delivery while its
	// lease lasts.
	ClaimDeliveries(ctx context.Context, owner string, now, leaseUntil time.Time, limit int) ([]Delivery, error)
	// DeleteDelivery removes a delivery that has been sent.
	DeleteDelivery(ctx context.Context, id string) error
	// RetryDelivery releases owner's lease on id and makes it due at next,
	// noting lastError. false when owner no longer holds the lease.
	RetryDelivery(ctx context.Context, id, owner string, next time.Time, lastError string) (bool, error)
	// FailDelivery gives up on id (held by owner): it keeps the row with
	// lastError and the time, and drops the payload. false when owner no
	// longer holds the lease.
	FailDelivery(ctx context.Context, id, owner string, at time.Time, lastError string) (bool, error)
	// PurgeDeliveries deletes deliveries that expired at or before now and
	// those given up before failedBefore; it returns how many it deleted.
	PurgeDeliveries(ctx context.Context, now, failedBefore time.Time) (int64, error)
}

// The delivery kinds.
const (
	deliveryAlert = "alert"
	deliveryCode  = "code"
)

// Delivery tuning. An alert is retried with exponential backoff from
// retryBase up to retryMax between attempts, maxAlertAttempts times in all
// (about 14 hours), then given up and logged as an error.
const (
	defaultSendTimeout = 10 * time.Second
	leaseMargin        = 30 * time.Second
	retryBase          = 30 * time.Second
	retryMax           = time.Hour
	maxAlertAttempts   = 20
	deliveryBatch      = 10
	keepFailed         = 30 * 24 * time.Hour
	purgeInterval      = time.Minute
	// pollInterval is how often an idle worker looks for deliveries queued
	// by other instances or due for a retry; its own are sent on a wake-up.
	pollInterval = 2 * time.Second
)

// retryDelay is the wait after the n-th failed attempt: retryBase doubled
// n-1 times, capped at retryMax.
func retryDelay(n int) time.Duration {
	d := retryBase
	for i := 1; i < n && d < retryMax; i++ {
		d *= 2
	}
	return min(d, retryMax)
}

type deliveryPayload struct {
	To      string `json:"to"`
	Subject string `json:"subject"`
	Body    string `json:"body"`
}

func (s *Service) sealMessage(id string, m notify.Message) (string, error) {
	plain, err := json.Marshal(deliveryPayload{To: m.To, Subject: m.Subject, Body: m.Body})
	if err != nil {
		return "", err
	}
	defer clear(plain)
	return s.keys.seal(plain, "delivery:"+id)
}

func (s *Service) openMessage(d Delivery) (notify.Message, error) {
	plain, err := s.keys.open(d.Payload, "delivery:"+d.ID)
	if err != nil {
		return notify.Message{}, err
	}
	defer clear(plain)
	var p deliveryPayload
	if err := json.Unmarshal(plain, &p); err != nil {
		return notify.Message{}, err
	}
	return notify.Message{Channel: d.Channel, To: p.To, Subject: p.Subject, Body: p.Body}, nil
}

// enqueue stores m in the delivery queue and wakes the worker. The message
// is then sent at least once, by this instance or another, even if this
// process dies now.
func (s *Service) enqueue(ctx context.Context, m notify.Message) error {
	if s.notifier == nil {
		return nil
	}
	now := s.now()
	d := Delivery{ID: s.newID(now), Kind: deliveryAlert, Channel: m.Channel, CreatedAt: now, NextAt: now}
	var err error
	if d.Payload, err = s.sealMessage(d.ID, m); err != nil {
		return fmt.Errorf("seal message: %w", err)
	}
	if err := s.store.AddDelivery(ctx, d); err != nil {
		return err
	}
	s.WakeDeliveries()
	return nil
}

// deliverNow sends a message carrying a code within the send timeout and
// reports the outcome. The message is queued leased to this instance while
// it is sent, so if this process dies mid-send another worker sends it
// (while the code is still valid); a failure is not retried, since the user
// is told at once and asks for a new code. Codes: delivery_failed.
func (s *Service) deliverNow(ctx context.Context, m notify.Message, expires time.Time) error {
	if s.notifier == nil {
		return Errorf(CodeDeliveryFailed, "no SMS channel is configured")
	}
	ctx = context.WithoutCancel(ctx) // finish the send and its bookkeeping even if the client hangs up
	now := s.now()
	d := Delivery{
		ID: s.newID(now), Kind: deliveryCode, Channel: m.Channel, CreatedAt: now, ExpiresAt: expires,
		Attempts: 1, NextAt: now, LeaseOwner: s.owner, LeaseUntil: now.Add(s.sendTimeout + leaseMargin),
	}
	var err error
	if d.Payload, err = s.sealMessage(d.ID, m); err != nil {
		return s.internal(ctx, "seal message", err)
	}
	if err := s.store.AddDelivery(ctx, d); err != nil {
		return s.internal(ctx, "queue code message", err)
	}
	sendCtx, cancel := context.WithTimeout(ctx, s.sendTimeout)
	err = s.notifier.Send(sendCtx, m)
	cancel()
	if err != nil {
		s.delivered(d.Channel, "failed")
		s.log.WarnContext(ctx, "send code", "delivery_id", d.ID, "channel", d.Channel, "err", err)
		if _, ferr := s.store.FailDelivery(ctx, d.ID, s.owner, s.now(), errText(err)); ferr != nil {
			s.log.ErrorContext(ctx, "mark delivery failed", "delivery_id", d.ID, "err", ferr)
		}
		return Errorf(CodeDeliveryFailed, "the code could not be sent: try again in a moment")
	}
	s.delivered(d.Channel, "sent")
	if err := s.store.DeleteDelivery(ctx, d.ID); err != nil {
		s.log.ErrorContext(ctx, "delete sent delivery", "delivery_id", d.ID, "err", err)
	}
	return nil
}

// WakeDeliveries tells the worker (RunDeliveries) to look for due
// deliveries now.
func (s *Service) WakeDeliveries() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// RunDeliveries is the delivery worker: it sends due deliveries when woken
// and every pollInterval, until ctx ends. A send in progress when ctx ends
// is finished (within the send timeout), so no message is cut off midway.
func (s *Service) RunDeliveries(ctx context.Context) {
	for {
		if _, err := s.DeliverDue(ctx); err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "deliver messages", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-s.after(pollInterval):
		}
	}
}

// DeliverDue claims and sends every delivery due now, returning how many it
// sent. It stops early when ctx ends.
func (s *Service) DeliverDue(ctx context.Context) (int, error) {
	if s.notifier == nil {
		return 0, nil
	}
	if now := s.now(); now.Sub(s.lastPurge.Load().(time.Time)) >= purgeInterval {
		if _, err := s.store.PurgeDeliveries(ctx, now, now.Add(-keepFailed)); err != nil {
			return 0, err
		}
		s.lastPurge.Store(now)
	}
	sent := 0
	for range 100 {
		if ctx.Err() != nil {
			return sent, nil
		}
		now := s.now()
		ds, err := s.store.ClaimDeliveries(ctx, s.owner, now, now.Add(s.sendTimeout*deliveryBatch+leaseMargin), deliveryBatch)
		if err != nil {
			return sent, err
		}
		if len(ds) == 0 {
			return sent, nil
		}
		for _, d := range ds {
			if ctx.Err() != nil {
				// Shutting down: hand the rest back at once rather than
				// leave them leased to a process that is going away.
				s.release(d)
				continue
			}
			if s.deliver(ctx, d) {
				sent++
			}
		}
	}
	return sent, nil
}

// release gives back a claimed delivery without trying it.
func (s *Service) release(d Delivery) {
	ctx := context.Background()
	if _, err := s.store.RetryDelivery(ctx, d.ID, s.owner, s.now(), "released at shutdown"); err != nil {
		s.log.WarnContext(ctx, "release delivery", "delivery_id", d.ID, "err", err)
	}
}

// deliver sends one claimed delivery and records the outcome.
func (s *Service) deliver(ctx context.Context, d Delivery) bool {
	ctx = context.WithoutCancel(ctx)
	log := s.log.With("delivery_id", d.ID, "kind", d.Kind, "channel", d.Channel, "attempt", d.Attempts)
	m, err := s.openMessage(d)
	if err == nil {
		sendCtx, cancel := context.WithTimeout(ctx, s.sendTimeout)
		err = s.notifier.Send(sendCtx, m)
		cancel()
		if err == nil {
			s.delivered(d.Channel, "sent")
			if err := s.store.DeleteDelivery(ctx, d.ID); err != nil {
				log.ErrorContext(ctx, "delete sent delivery", "err", err)
			}
			return true
		}
	} else {
		err = notify.Permanent(fmt.Errorf("open message: %w", err))
	}
	now := s.now()
	if notify.IsPermanent(err) || d.Kind == deliveryCode || d.Attempts >= maxAlertAttempts {
		s.delivered(d.Channel, "failed")
		log.ErrorContext(ctx, "delivery failed: giving up", "err", err)
		if _, ferr := s.store.FailDelivery(ctx, d.ID, s.owner, now, errText(err)); ferr != nil {
			log.ErrorContext(ctx, "mark delivery failed", "err", ferr)
		}
		return false
	}
	s.delivered(d.Channel, "retry")
	next := now.Add(retryDelay(d.Attempts))
	log.WarnContext(ctx, "delivery failed: will retry", "err", err, "next_at", next)
	if _, rerr := s.store.RetryDelivery(ctx, d.ID, s.owner, next, errText(err)); rerr != nil {
		log.ErrorContext(ctx, "schedule delivery retry", "err", rerr)
	}
	return false
}

func (s *Service) delivered(channel, outcome string) {
	if s.onDelivery != nil {
		s.onDelivery(channel, outcome)
	}
}

// errText is an error's text cut to fit the queue's last_error column.
func errText(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return "timed out"
	}
	return truncate(err.Error(), 500)
}
