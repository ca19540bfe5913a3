package main

import (
	"context"
	"errors"
	"math"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// request sends one request of a scenario and returns the HTTP status.
type request func(ctx context.Context) (status int, err error)

// work gives each client its own request function (its own session, user, ...).
type work func(client int) request

// errExhausted is what a client's request function returns when it has
// used up what set-up prepared for it; the client stops.
var errExhausted = errors.New("prepared sessions used up")

// result is what a run measured.
type result struct {
	// exhausted counts clients that stopped early for lack of prepared sessions.
	exhausted int
	elapsed   time.Duration
	latency   *histogram
	statuses  map[int]int
	errors    map[string]int
}

// drive runs o.concurrency clients until o.duration passes, o.requests have
// been sent, or ctx ends.
func drive(ctx context.Context, o options, w work) result {
	ctx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	var sent atomic.Int64
	type local struct {
		exhausted bool
		h         histogram
		statuses  map[int]int
		errors    map[string]int
	}
	locals := make([]*local, o.concurrency)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range locals {
		l := &local{statuses: map[int]int{}, errors: map[string]int{}}
		locals[i] = l
		req := w(i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if o.requests > 0 && sent.Add(1) > int64(o.requests) {
					return
				}
				t0 := time.Now()
				status, err := req(ctx)
				if errors.Is(err, errExhausted) {
					l.exhausted = true
					return
				}
				if err != nil && runEnded(ctx) {
					return // cut off by the end of the run: not an error of the server
				}
				l.h.add(time.Since(t0))
				if err != nil {
					l.errors[errorKind(err)]++
					continue
				}
				l.statuses[status]++
			}
		}()
	}
	wg.Wait()
	r := result{elapsed: time.Since(start), latency: &histogram{}, statuses: map[int]int{}, errors: map[string]int{}}
	for _, l := range locals {
		if l.exhausted {
			r.exhausted++
		}
		r.latency.merge(&l.h)
		for k, v := range l.statuses {
			r.statuses[k] += v
		}
		for k, v := range l.errors {
			r.errors[k] += v
		}
	}
	return r
}

// runEnded reports whether ctx, the run's, has ended or reached its
// deadline: a request's connection can time out at the deadline before
// ctx says it is done. Decided by the clock, not by the error, since a dial
// or a client timeout mid-run is also a deadline error, and an error.
func runEnded(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	end, ok := ctx.Deadline()
	return ok && !time.Now().Before(end)
}

// histogram records durations in logarithmic buckets 1% wide, from 1 µs to
// about 100 s: percentiles are exact to 1% with constant memory.
type histogram struct {
	counts [1900]uint64
	n      uint64
	max    time.Duration
}

const bucketGrowth = 1.01

func bucketOf(d time.Duration) int {
	us := float64(d) / float64(time.Microsecond)
	if us <= 1 {
		return 0
	}
	return min(int(math.Log(us)/math.Log(bucketGrowth))+1, len(histogram{}.counts)-1)
}

// upper is the largest duration bucket b holds.
func upper(b int) time.Duration {
	return time.Duration(math.Pow(bucketGrowth, float64(b)) * float64(time.Microsecond))
}

func (h *histogram) add(d time.Duration) {
	h.counts[bucketOf(d)]++
	h.n++
	h.max = max(h.max, d)
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// quantile is the duration below which a fraction q of the samples fall.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(upper(i), h.max)
		}
	}
	return h.max
}

// sortedKeys lists a map's keys in order.
func sortedKeys[K int | string, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	return keys
}
