package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/twofold-auth/twofold/internal/auth"
)

const deliveryCols = "id, kind, channel, payload, created_at, expires_at, attempts, next_at, lease_owner, lease_until"

// AddDelivery implements auth.Deliveries.
func (db *DB) AddDelivery(ctx context.Context, d auth.Delivery) error {
	_, err := db.pool.Exec(ctx, "INSERT INTO deliveries ("+deliveryCols+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
		d.ID, d.Kind, d.Channel, d.Payload, micros(d.CreatedAt), micros(d.ExpiresAt), d.Attempts, micros(d.NextAt), d.LeaseOwner, micros(d.LeaseUntil))
	if err != nil {
		return fmt.Errorf("add delivery: %w", classify(err))
	}
	return nil
}

// ClaimDeliveries implements auth.Deliveries. The inner SELECT locks the
// rows it picks and skips rows another worker is claiming (FOR UPDATE SKIP
// LOCKED), and the outer WHERE checks the conditions again on the locked
// rows, so two workers never lease one delivery at once. The inner SELECT
// is wrapped in ARRAY(...) so that it runs once: as a plain IN (SELECT ...)
// the planner may rescan it per row, and LIMIT then no longer bounds the
// rows updated.
func (db *DB) ClaimDeliveries(ctx context.Context, owner string, now, leaseUntil time.Time, limit int) ([]auth.Delivery, error) {
	const due = "failed_at = 0 AND next_at <= $3 AND lease_until <= $3 AND (expires_at = 0 OR expires_at > $3)"
	rows, err := db.pool.Query(ctx, `UPDATE deliveries SET lease_owner = $1, lease_until = $2, attempts = attempts + 1
		WHERE id = ANY(ARRAY(SELECT id FROM deliveries WHERE `+due+` ORDER BY next_at, id LIMIT $4 FOR UPDATE SKIP LOCKED))
		AND `+due+`
		RETURNING `+deliveryCols, owner, micros(leaseUntil), micros(now), limit)
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", classify(err))
	}
	defer rows.Close()
	out := []auth.Delivery{}
	for rows.Next() {
		var d auth.Delivery
		var created, expires, next, lease int64
		if err := rows.Scan(&d.ID, &d.Kind, &d.Channel, &d.Payload, &created, &expires, &d.Attempts, &next, &d.LeaseOwner, &lease); err != nil {
			return nil, fmt.Errorf("claim deliveries: %w", classify(err))
		}
		d.CreatedAt, d.ExpiresAt, d.NextAt, d.LeaseUntil = fromMicros(created), fromMicros(expires), fromMicros(next), fromMicros(lease)
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", classify(err))
	}
	// RETURNING gives no order; hand them out oldest due first.
	slices.SortFunc(out, func(a, b auth.Delivery) int {
		return cmp.Or(a.NextAt.Compare(b.NextAt), strings.Compare(a.ID, b.ID))
	})
	return out, nil
}

// DeleteDelivery implements auth.Deliveries.
func (db *DB) DeleteDelivery(ctx context.Context, id string) error {
	if _, err := db.pool.Exec(ctx, "DELETE FROM deliveries WHERE id = $1", id); err != nil {
		return fmt.Errorf("delete delivery: %w", classify(err))
	}
	return nil
}

// RetryDelivery implements auth.Deliveries.
func (db *DB) RetryDelivery(ctx context.Context, id, owner string, next time.Time, lastError string) (bool, error) {
	tag, err := db.pool.Exec(ctx, `UPDATE deliveries SET lease_owner = '', lease_until = 0, next_at = $1, last_error = $2
		WHERE id = $3 AND lease_owner = $4 AND failed_at = 0`, micros(next), lastError, id, owner)
	return changed(tag, err, "retry delivery")
}

// FailDelivery implements auth.Deliveries.
func (db *DB) FailDelivery(ctx context.Context, id, owner string, at time.Time, lastError string) (bool, error) {
	tag, err := db.pool.Exec(ctx, `UPDATE deliveries SET failed_at = $1, payload = '', last_error = $2, lease_owner = '', lease_until = 0
		WHERE id = $3 AND lease_owner = $4 AND failed_at = 0`, micros(at), lastError, id, owner)
	return changed(tag, err, "fail delivery")
}

// PurgeDeliveries implements auth.Deliveries.
func (db *DB) PurgeDeliveries(ctx context.Context, now, failedBefore time.Time) (int64, error) {
	tag, err := db.pool.Exec(ctx, `DELETE FROM deliveries
		WHERE (expires_at != 0 AND expires_at <= $1) OR (failed_at != 0 AND failed_at < $2)`, micros(now), micros(failedBefore))
	if err != nil {
		return 0, fmt.Errorf("purge deliveries: %w", classify(err))
	}
	return tag.RowsAffected(), nil
}
