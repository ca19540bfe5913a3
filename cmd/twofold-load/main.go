// Command twofold-load drives a running twofold server over HTTP with a
// fixed concurrency for a fixed time (or request count) and prints requests
// per second, latency percentiles, status counts, errors, and — for a local
// server given by -pid — its CPU seconds and peak RSS read from /proc.
//
// It only talks to loopback addresses, and every run is bounded in time and
// count. Scenarios:
//
//	health         GET /healthz
//	login          password-only logins of users without a second factor
//	verify-reject  wrong TOTP codes from many pending sessions, 90 per
//	               session (one per -users), so start the server with
//	               TWOFOLD_LOCKOUT_THRESHOLD=100 and TWOFOLD_VERIFY_RATE_LIMIT=0
//	               or it answers 429; a client whose sessions run out stops
//
// Users are created through the API during set-up, which is not measured.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "twofold-load:", err)
		var u usageError
		if errors.As(err, &u) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// Limits that keep a run bounded whatever the flags say.
const (
	maxDuration    = 5 * time.Minute
	maxRequests    = 10_000_000
	maxConcurrency = 2000
)

type options struct {
	base        *url.URL
	scenario    string
	concurrency int
	duration    time.Duration
	requests    int
	pid         int
	users       int
	password    string
}

func parse(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("twofold-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	var rawURL string
	fs.StringVar(&rawURL, "url", "http://127.0.0.1:8080", "server to drive (loopback only)")
	fs.StringVar(&o.scenario, "scenario", "health", "health, login or verify-reject")
	fs.IntVar(&o.concurrency, "c", 64, "concurrent clients")
	fs.DurationVar(&o.duration, "d", 10*time.Second, "how long to run (at most 5m)")
	fs.IntVar(&o.requests, "n", 0, "stop after this many requests (0: only the duration bounds the run)")
	fs.IntVar(&o.pid, "pid", 0, "pid of the local server, to report its CPU time and peak RSS")
	fs.IntVar(&o.users, "users", 0, "users to spread the load over (default: one per client, at most 100); verify-reject sends 90 codes per user")
	fs.StringVar(&o.password, "password", "load-test password 1", "password of the load-test users")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: twofold-load [flags]\n\nDrives a running twofold server and reports throughput, latency and server cost.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, usageError{err.Error()}
	}
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return o, usageError{"-url must be an http(s) URL such as http://127.0.0.1:8080"}
	}
	if !loopback(u.Hostname()) {
		return o, usageError{"-url must point at a loopback address (127.0.0.0/8, ::1 or localhost)"}
	}
	o.base = u
	switch {
	case o.concurrency < 1 || o.concurrency > maxConcurrency:
		return o, usageError{fmt.Sprintf("-c must be 1..%d", maxConcurrency)}
	case o.duration <= 0 || o.duration > maxDuration:
		return o, usageError{"-d must be more than 0 and at most 5m"}
	case o.requests < 0 || o.requests > maxRequests:
		return o, usageError{fmt.Sprintf("-n must be 0..%d", maxRequests)}
	case o.users < 0 || o.users > 100_000:
		return o, usageError{"-users must be 0..100000"}
	}
	if o.users == 0 {
		o.users = min(o.concurrency, 100)
	}
	if _, ok := scenarios[o.scenario]; !ok {
		return o, usageError{"-scenario must be one of " + strings.Join(scenarioNames(), ", ")}
	}
	return o, nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parse(args, stderr)
	if errors.Is(err, flag.ErrHelp) || (err != nil && strings.Contains(err.Error(), flag.ErrHelp.Error())) {
		return nil
	}
	if err != nil {
		return err
	}
	c := newClient(o.base, o.concurrency)
	sc := scenarios[o.scenario]
	fmt.Fprintf(stderr, "setting up %s ...\n", o.scenario)
	work, err := sc(ctx, c, o)
	if err != nil {
		return fmt.Errorf("set-up: %w", err)
	}
	var before procStats
	var sampler *rssSampler
	if o.pid > 0 {
		if before, err = readProc(o.pid); err != nil {
			return fmt.Errorf("-pid %d: %w", o.pid, err)
		}
		sampler = sampleRSS(o.pid, 50*time.Millisecond)
	}
	res := drive(ctx, o, work)
	rep := report{opts: o, result: res}
	if o.pid > 0 {
		after, err := readProc(o.pid)
		if err != nil {
			return fmt.Errorf("-pid %d: %w", o.pid, err)
		}
		rep.cpu = after.cpu - before.cpu
		rep.peakRSS = max(sampler.stop(), after.rss)
		rep.hasProc = true
	}
	rep.print(stdout)
	return nil
}
