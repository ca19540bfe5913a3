package sqlite

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
	_, err := db.write.ExecContext(ctx, "INSERT INTO deliveries ("+deliveryCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		d.ID, d.Kind, d.Channel, d.Payload, micros(d.CreatedAt), micros(d.ExpiresAt), d.Attempts, micros(d.NextAt), d.LeaseOwner, micros(d.LeaseUntil))
	if err != nil {
		return fmt.Errorf("add delivery: %w", classify(err))
	}
	return nil
}

// ClaimDeliveries implements auth.Deliveries with one UPDATE: SQLite runs
// it alone, so no two callers claim one row.
func (db *DB) ClaimDeliveries(ctx context.Context, owner string, now, leaseUntil time.Time, limit int) ([]auth.Delivery, error) {
	rows, err := db.write.QueryContext(ctx, `UPDATE deliveries SET lease_owner = ?, lease_until = ?, attempts = attempts + 1
		WHERE id IN (SELECT id FROM deliveries
			WHERE failed_at = 0 AND next_at <= ? AND lease_until <= ? AND (expires_at = 0 OR expires_at > ?)
			ORDER BY next_at, id LIMIT ?)
		RETURNING `+deliveryCols, owner, micros(leaseUntil), micros(now), micros(now), micros(now), limit)
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
	if _, err := db.write.ExecContext(ctx, "DELETE FROM deliveries WHERE id = ?", id); err != nil {
		return fmt.Errorf("delete delivery: %w", classify(err))
	}
	return nil
}

// RetryDelivery implements auth.Deliveries.
func (db *DB) RetryDelivery(ctx context.Context, id, owner string, next time.Time, lastError string) (bool, error) {
	res, err := db.write.ExecContext(ctx, `UPDATE deliveries SET lease_owner = '', lease_until = 0, next_at = ?, last_error = ?
		WHERE id = ? AND lease_owner = ? AND failed_at = 0`, micros(next), lastError, id, owner)
	return changed(res, err, "retry delivery")
}

// FailDelivery implements auth.Deliveries.
func (db *DB) FailDelivery(ctx context.Context, id, owner string, at time.Time, lastError string) (bool, error) {
	res, err := db.write.ExecContext(ctx, `UPDATE deliveries SET failed_at = ?, payload = '', last_error = ?, lease_owner = '', lease_until = 0
		WHERE id = ? AND lease_owner = ? AND failed_at = 0`, micros(at), lastError, id, owner)
	return changed(res, err, "fail delivery")
}

// PurgeDeliveries implements auth.Deliveries.
func (db *DB) PurgeDeliveries(ctx context.Context, now, failedBefore time.Time) (int64, error) {
	res, err := db.write.ExecContext(ctx, `DELETE FROM deliveries
		WHERE (expires_at != 0 AND expires_at <= ?) OR (failed_at != 0 AND failed_at < ?)`, micros(now), micros(failedBefore))
	if err != nil {
		return 0, fmt.Errorf("purge deliveries: %w", classify(err))
	}
	return res.RowsAffected()
}
