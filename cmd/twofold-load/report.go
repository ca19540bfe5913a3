package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

type report struct {
	opts    options
	result  result
	hasProc bool
	user    time.Duration // servers' CPU time in user mode
	sys     time.Duration // and in the kernel
	client  time.Duration // this process's own CPU time while driving
	peakRSS []uint64      // per server
	setup   time.Duration
}

func (r report) print(w io.Writer) {
	res := r.result
	n := res.latency.n
	secs := res.elapsed.Seconds()
	fmt.Fprintf(w, "scenario      %s (c=%d, %s, %d server(s))\n", r.opts.scenario, r.opts.concurrency, res.elapsed.Round(time.Millisecond), max(len(r.opts.bases), 1))
	if r.setup > 0 {
		fmt.Fprintf(w, "set-up        %s (not measured)\n", r.setup.Round(10*time.Millisecond))
	}
	fmt.Fprintf(w, "requests      %d (%.0f req/s)\n", n, float64(n)/secs)
	fmt.Fprintf(w, "latency       p50 %s  p90 %s  p99 %s  max %s\n",
		ms(res.latency.quantile(0.50)), ms(res.latency.quantile(0.90)), ms(res.latency.quantile(0.99)), ms(res.latency.max))
	var parts []string
	for _, k := range sortedKeys(res.statuses) {
		parts = append(parts, fmt.Sprintf("%d: %d", k, res.statuses[k]))
	}
	fmt.Fprintf(w, "statuses      %s\n", strings.Join(parts, ", "))
	parts = parts[:0]
	errs := 0
	for _, k := range sortedKeys(res.errors) {
		parts = append(parts, fmt.Sprintf("%s: %d", k, res.errors[k]))
		errs += res.errors[k]
	}
	if errs == 0 {
		fmt.Fprintln(w, "errors        0")
	} else {
		fmt.Fprintf(w, "errors        %d (%s)\n", errs, strings.Join(parts, ", "))
	}
	if res.exhausted > 0 {
		fmt.Fprintf(w, "note          %d of %d clients ran out of prepared sessions before the end: raise -users\n", res.exhausted, r.opts.concurrency)
	}
	perReq := func(d time.Duration) int64 {
		if n == 0 {
			return 0
		}
		return (d / time.Duration(n)).Microseconds()
	}
	if r.hasProc {
		cpu := r.user + r.sys
		fmt.Fprintf(w, "server cpu    %.2f s (%d µs/request: user %d, kernel %d)\n", cpu.Seconds(), perReq(cpu), perReq(r.user), perReq(r.sys))
		var rss []string
		for _, b := range r.peakRSS {
			rss = append(rss, fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)))
		}
		fmt.Fprintf(w, "server rss    peak %s\n", strings.Join(rss, ", "))
	}
	if r.client > 0 {
		fmt.Fprintf(w, "client cpu    %.2f s (%d µs/request, this load tool)\n", r.client.Seconds(), perReq(r.client))
	}
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
}
