package ratelimit

import (
	"crypto/sha256"
	"encoding/hex"
	"hash/maphash"
	"math"
	"sync"
	"time"
)

// Sharding: up to maxShards shards, each tracking at least minShardKeys keys, so small
// limiters stay one shard and evict by a global rather than a per-shard order.
const (
	maxShards    = 16
	minShardKeys = 64
)

// maxSpan bounds times and intervals (in ns, about 36 years) so the arithmetic
// in Allow cannot overflow, however odd the Rate or the times passed in.
const maxSpan = 1 << 60

// maxRawKey is the longest key stored as is; longer keys are stored as a
// fixed-size digest so that memory stays bounded by maxKeys whatever the keys.
const maxRawKey = 64

// Limiter is a keyed limiter (token bucket: capacity N, refilling N per Per), safe for
// concurrent use, with bounded memory: at most maxKeys keys are tracked (when full, it
// drops the keys whose buckets are full again; if still full, the least recently seen).
// The keys are spread over up to 16 independently locked shards.
type Limiter struct {
	interval int64 // ns to refill one token: Per/N rounded up
	burst    int64 // (N-1)*interval: how far ahead of now a key's next token time may be
	seed     maphash.Seed
	shards   []*shard // nil when the Rate is off

	baseOnce sync.Once
	base     time.Time // the first time passed to Allow; times are kept as offsets from it
}

// shard is a part of the keys with its own lock and an LRU list of entries.
type shard struct {
	mu      sync.Mutex
	m       map[string]*entry
	lru     entry // sentinel: lru.next is the most recently seen entry, lru.prev the least
	max     int   // keys this shard may track
	sweepAt int64 // no entry's bucket is full before this offset; sweeping earlier finds nothing
	_       [64]byte
}

// entry is one key's bucket, as the time (offset) its next token is due if none were
// taken since: the bucket is full from then on, and holds N-k tokens k intervals before.
type entry struct {
	key        string
	tat        int64
	prev, next *entry
}

// New returns a Limiter allowing r per key, tracking at most maxKeys keys. When r is off
// Allow always allows and nothing is tracked. New panics if r is on and maxKeys < 1.
func New(r Rate, maxKeys int) *Limiter {
	l := &Limiter{seed: maphash.MakeSeed()}
	if r.Off() {
		return l
	}
	if maxKeys < 1 {
		panic("ratelimit: New: maxKeys < 1")
	}
	interval := (int64(r.Per) + int64(r.N) - 1) / int64(r.N) // >= 1
	l.interval = min(interval, maxSpan)
	if int64(r.N-1) > maxSpan/l.interval {
		l.burst = maxSpan
	} else {
		l.burst = int64(r.N-1) * l.interval
	}

	n := min(max(maxKeys/minShardKeys, 1), maxShards)
	l.shards = make([]*shard, n)
	for i := range l.shards {
		s := &shard{max: maxKeys / n, sweepAt: math.MaxInt64}
		if i < maxKeys%n {
			s.max++
		}
		s.m = make(map[string]*entry)
		s.lru.next, s.lru.prev = &s.lru, &s.lru
		l.shards[i] = s
	}
	return l
}

// Allow takes one token for key at time now; when none is left it returns false and how
// long until one is available (exactly; callers round up for Retry-After). Times should
// come from one clock (time.Now, or a test clock); time.Now's monotonic reading is used.
func (l *Limiter) Allow(key string, now time.Time) (ok bool, retryAfter time.Duration) {
	if l.shards == nil {
		return true, 0
	}
	key = compactKey(key)
	t := l.offset(now)
	s := l.shard(key)

	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.m[key]
	if e == nil {
		if len(s.m) >= s.max {
			s.makeRoom(t)
		}
		e = &entry{key: key, tat: t}
		s.m[key] = e
	} else {
		e.unlink()
	}
	s.pushFront(e)

	tat := max(e.tat, t)
	if wait := tat - t - l.burst; wait > 0 {
		return false, time.Duration(wait)
	}
	e.tat = tat + l.interval
	s.sweepAt = min(s.sweepAt, e.tat)
	return true, 0
}

// Blocked reports, without taking a token, whether key has none left at time now, and if
// so how long until it has one.
func (l *Limiter) Blocked(key string, now time.Time) (blocked bool, retryAfter time.Duration) {
	if l.shards == nil {
		return false, 0
	}
	key = compactKey(key)
	t := l.offset(now)
	s := l.shard(key)

	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.m[key]
	if e == nil {
		return false, 0
	}
	if wait := max(e.tat, t) - t - l.burst; wait > 0 {
		return true, time.Duration(wait)
	}
	return false, 0
}

// Refund gives back one token that Allow took for key, for an attempt that
// turned out not to count (a correct password: only failures are limited).
func (l *Limiter) Refund(key string) {
	if l.shards == nil {
		return
	}
	key = compactKey(key)
	s := l.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.m[key]; e != nil {
		e.tat -= l.interval
	}
}

// Len reports how many keys l is tracking.
func (l *Limiter) Len() int {
	n := 0
	for _, s := range l.shards {
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}

// compactKey returns key, or for a key longer than maxRawKey a digest of it in hex plus
// one byte: longer than any raw key, so never equal to one.
func compactKey(key string) string {
	if len(key) <= maxRawKey {
		return key
	}
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:]) + "~"
}

// shard returns the shard holding key.
func (l *Limiter) shard(key string) *shard {
	return l.shards[maphash.String(l.seed, key)%uint64(len(l.shards))]
}

// offset returns now as nanoseconds since the first time Allow was given, within ±2*maxSpan.
func (l *Limiter) offset(now time.Time) int64 {
	l.baseOnce.Do(func() { l.base = now })
	return min(max(int64(now.Sub(l.base)), -2*maxSpan), 2*maxSpan)
}

// makeRoom frees at least one place in s, which is full, at offset t: first every key
// whose bucket is full again (forgetting it loses nothing), then the least recently seen.
func (s *shard) makeRoom(t int64) {
	if t >= s.sweepAt {
		next := int64(math.MaxInt64)
		for k, e := range s.m {
			if e.tat <= t {
				e.unlink()
				delete(s.m, k)
			} else {
				next = min(next, e.tat)
			}
		}
		s.sweepAt = next
	}
	for len(s.m) >= s.max {
		e := s.lru.prev
		e.unlink()
		delete(s.m, e.key)
	}
}

// pushFront makes e the most recently seen entry of s.
func (s *shard) pushFront(e *entry) {
	e.prev, e.next = &s.lru, s.lru.next
	s.lru.next.prev = e
	s.lru.next = e
}

// unlink takes e out of its LRU list.
func (e *entry) unlink() {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
}
