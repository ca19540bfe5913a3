package ratelimit

// Shards reports how many shards l has; for tests only.
func (l *Limiter) Shards() int { return len(l.shards) }
