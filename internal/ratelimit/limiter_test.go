package ratelimit_test

import (
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twofold-auth/twofold/internal/ratelimit"
)

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

var fivePerMinute = ratelimit.Rate{N: 5, Per: time.Minute}

// allowN calls Allow n times for key at now and fails the test unless all are allowed.
func allowN(t *testing.T, l *ratelimit.Limiter, key string, n int, now time.Time) {
	t.Helper()
	for i := range n {
		if ok, wait := l.Allow(key, now); !ok {
			t.Fatalf("Allow(%q) #%d = false, %v; want true", key, i+1, wait)
		}
	}
}

func TestAllow(t *testing.T) {
	t.Run("allows N then refuses with the time to the next token", func(t *testing.T) {
		l := ratelimit.New(fivePerMinute, 100)
		allowN(t, l, "ip:1", 5, t0)
		ok, wait := l.Allow("ip:1", t0)
		if ok || wait != 12*time.Second {
			t.Errorf("6th Allow = %v, %v; want false, 12s", ok, wait)
		}
		ok, wait = l.Allow("ip:1", t0.Add(5*time.Second))
		if ok || wait != 7*time.Second {
			t.Errorf("Allow 5s later = %v, %v; want false, 7s", ok, wait)
		}
	})

	t.Run("refills one token per Per/N", func(t *testing.T) {
		l := ratelimit.New(fivePerMinute, 100)
		allowN(t, l, "k", 5, t0)
		if ok, _ := l.Allow("k", t0.Add(12*time.Second-time.Nanosecond)); ok {
			t.Error("Allow just before a token is due = true, want false")
		}
		allowN(t, l, "k", 1, t0.Add(12*time.Second))
		if ok, wait := l.Allow("k", t0.Add(12*time.Second)); ok || wait != 12*time.Second {
			t.Errorf("second Allow at 12s = %v, %v; want false, 12s", ok, wait)
		}
		// 36s later three more tokens are due, not more.
		allowN(t, l, "k", 3, t0.Add(48*time.Second))
		if ok, _ := l.Allow("k", t0.Add(48*time.Second)); ok {
			t.Error("fourth Allow at 48s = true, want false")
		}
	})

	t.Run("refills to at most N", func(t *testing.T) {
		l := ratelimit.New(fivePerMinute, 100)
		allowN(t, l, "k", 1, t0)
		later := t0.Add(24 * time.Hour)
		allowN(t, l, "k", 5, later)
		if ok, _ := l.Allow("k", later); ok {
			t.Error("6th Allow after a long idle = true, want false")
		}
	})

	t.Run("refused attempts do not extend the wait", func(t *testing.T) {
		l := ratelimit.New(fivePerMinute, 100)
		allowN(t, l, "k", 5, t0)
		for range 100 {
			l.Allow("k", t0.Add(time.Second))
		}
		allowN(t, l, "k", 1, t0.Add(12*time.Second))
	})

	t.Run("keys are independent", func(t *testing.T) {
		l := ratelimit.New(fivePerMinute, 100)
		allowN(t, l, "email:a@example.com", 5, t0)
		if ok, _ := l.Allow("email:a@example.com", t0); ok {
			t.Error("exhausted key allowed")
		}
		allowN(t, l, "email:b@example.com", 5, t0)
	})

	t.Run("long keys are independent", func(t *testing.T) {
		l := ratelimit.New(ratelimit.Rate{N: 1, Per: time.Hour}, 100)
		long := strings.Repeat("x", 1000)
		allowN(t, l, long+"a", 1, t0)
		allowN(t, l, long+"b", 1, t0)
		if ok, _ := l.Allow(long+"a", t0); ok {
			t.Error("exhausted long key allowed")
		}
	})

	t.Run("off allows everything and tracks nothing", func(t *testing.T) {
		l := ratelimit.New(ratelimit.Rate{}, 0)
		for i := range 1000 {
			if ok, wait := l.Allow("k"+strconv.Itoa(i%3), t0); !ok || wait != 0 {
				t.Fatalf("Allow = %v, %v; want true, 0", ok, wait)
			}
		}
		if n := l.Len(); n != 0 {
			t.Errorf("Len() = %d, want 0", n)
		}
	})

	t.Run("uneven Per/N rounds the wait up", func(t *testing.T) {
		l := ratelimit.New(ratelimit.Rate{N: 3, Per: time.Second}, 100)
		allowN(t, l, "k", 3, t0)
		_, wait := l.Allow("k", t0)
		if wait < time.Second/3 || wait > time.Second/3+time.Nanosecond {
			t.Errorf("retryAfter = %v, want about 333.333333ms", wait)
		}
	})

	t.Run("a clock far from the first time still limits", func(t *testing.T) {
		l := ratelimit.New(fivePerMinute, 100)
		allowN(t, l, "k", 5, t0)
		for _, now := range []time.Time{{}, t0.AddDate(-500, 0, 0), t0.AddDate(500, 0, 0)} {
			allowN(t, l, now.String(), 5, now)
			if ok, _ := l.Allow(now.String(), now); ok {
				t.Errorf("6th Allow at %v = true, want false", now)
			}
		}
	})
}

func TestNewPanicsWithoutRoom(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("New(5/m, 0) did not panic")
		}
	}()
	ratelimit.New(fivePerMinute, 0)
}

func TestBlocked(t *testing.T) {
	l := ratelimit.New(ratelimit.Rate{N: 2, Per: time.Minute}, 100)
	t.Run("does not take tokens", func(t *testing.T) {
		for range 10 {
			if blocked, _ := l.Blocked("k", t0); blocked {
				t.Fatal("Blocked = true before any token was taken")
			}
		}
		allowN(t, l, "k", 2, t0)
	})
	t.Run("reports the wait once tokens are gone", func(t *testing.T) {
		if blocked, wait := l.Blocked("k", t0); !blocked || wait != 30*time.Second {
			t.Errorf("Blocked = %v, %v; want true, 30s", blocked, wait)
		}
		if blocked, _ := l.Blocked("k", t0.Add(30*time.Second)); blocked {
			t.Error("Blocked after a token is due = true, want false")
		}
	})
	t.Run("off is never blocked", func(t *testing.T) {
		if blocked, _ := ratelimit.New(ratelimit.Rate{}, 1).Blocked("k", t0); blocked {
			t.Error("Blocked = true with the limit off")
		}
	})
}

func TestMemoryBound(t *testing.T) {
	for _, maxKeys := range []int{1, 7, 100, 1000, 5000} {
		t.Run("distinct keys stay within maxKeys="+strconv.Itoa(maxKeys), func(t *testing.T) {
			l := ratelimit.New(ratelimit.Rate{N: 1, Per: time.Hour}, maxKeys)
			for i := range 10 * maxKeys {
				l.Allow("ip:"+strconv.Itoa(i), t0.Add(time.Duration(i)*time.Millisecond))
				if n := l.Len(); n > maxKeys {
					t.Fatalf("after %d keys Len() = %d, want <= %d", i+1, n, maxKeys)
				}
			}
			if n := l.Len(); n == 0 {
				t.Error("Len() = 0 after inserting keys")
			}
		})
	}

	t.Run("full buckets are dropped before the least recently seen", func(t *testing.T) {
		l := ratelimit.New(fivePerMinute, 2)
		if n := l.Shards(); n != 1 {
			t.Fatalf("Shards() = %d, want 1 for a small limiter", n)
		}
		allowN(t, l, "busy", 5, t0)                  // least recently seen, bucket empty
		allowN(t, l, "idle", 1, t0.Add(time.Second)) // full again 12s later
		allowN(t, l, "new", 1, t0.Add(20*time.Second))
		// "idle" had to go, not "busy": busy has one token back (20s), not five.
		allowN(t, l, "busy", 1, t0.Add(20*time.Second))
		if ok, _ := l.Allow("busy", t0.Add(20*time.Second)); ok {
			t.Error("busy key forgotten: second Allow = true, want false")
		}
	})

	t.Run("the least recently seen is dropped when no bucket is full", func(t *testing.T) {
		l := ratelimit.New(fivePerMinute, 2)
		allowN(t, l, "a", 5, t0)
		allowN(t, l, "b", 5, t0.Add(time.Second))
		l.Allow("a", t0.Add(2*time.Second)) // refused, but seen: b is now the oldest
		allowN(t, l, "c", 1, t0.Add(3*time.Second))
		if ok, _ := l.Allow("a", t0.Add(3*time.Second)); ok {
			t.Error("recently seen key forgotten: Allow = true, want false")
		}
		allowN(t, l, "b", 5, t0.Add(3*time.Second)) // forgotten, so a fresh bucket
	})
}

func TestConcurrentAllowGrantsExactlyN(t *testing.T) {
	l := ratelimit.New(ratelimit.Rate{N: 100, Per: time.Hour}, 1000)
	var granted atomic.Int64
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for range 20 {
				if ok, _ := l.Allow("ip:203.0.113.7", t0); ok {
					granted.Add(1)
				}
				l.Allow("other", t0) // contention on other keys too
			}
		})
	}
	wg.Wait()
	if got := granted.Load(); got != 100 {
		t.Errorf("granted %d, want 100", got)
	}
}

func BenchmarkAllowParallel(b *testing.B) {
	l := ratelimit.New(fivePerMinute, 100_000)
	keys := make([]string, 10_000)
	for i := range keys {
		keys[i] = "ip:10.0." + strconv.Itoa(i/256) + "." + strconv.Itoa(i%256)
	}
	now := time.Now()
	b.ReportAllocs()
	var next atomic.Int64
	b.RunParallel(func(p *testing.PB) {
		i := int(next.Add(1)) * 7919
		for p.Next() {
			l.Allow(keys[i%len(keys)], now)
			i++
		}
	})
}

func TestRefundGivesATokenBack(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	l := ratelimit.New(ratelimit.Rate{N: 2, Per: time.Minute}, 100)
	l.Allow("k", t0)
	l.Allow("k", t0)
	if ok, _ := l.Allow("k", t0); ok {
		t.Fatal("third attempt allowed, want refused")
	}
	l.Refund("k")
	if ok, _ := l.Allow("k", t0); !ok {
		t.Errorf("refused after a refund, want allowed")
	}
	if ok, _ := l.Allow("k", t0); ok {
		t.Errorf("a refund gave back more than one token")
	}
	l.Refund("unknown") // no effect, no panic
}
