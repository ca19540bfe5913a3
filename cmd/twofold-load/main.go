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
//	verify-accept  correct TOTP codes, one per pending session (one per
//	               -users): each code is used once
//	full-login     a password login then a correct TOTP code, each user once
//
// Users are created through the API during set-up (slow: a password hash and
// an enrollment each), or, with -imported, taken from an import made with
// -gen and the same -seed and -first. Pending sessions are made by password
// logins during set-up. Set-up is not measured; its time is reported.
//
// -url takes several comma-separated servers (sharing one database): client
// i sends to server i mod their number. -pid takes their pids likewise.
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
	"strconv"
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
	maxUsers       = 1_000_000
	maxGenerated   = 10_000_000
)

type options struct {
	bases       []*url.URL
	pids        []int
	scenario    string
	concurrency int
	duration    time.Duration
	requests    int
	users       int
	password    string
	imported    bool
	seed        string
	first       int
	gen         int
	genKind     string
	usr1        bool
}

func parse(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("twofold-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	var rawURL, rawPids string
	fs.StringVar(&rawURL, "url", "http://127.0.0.1:8080", "server to drive (loopback only); several comma-separated: client i uses server i mod n")
	fs.StringVar(&o.scenario, "scenario", "health", strings.Join(scenarioNames(), ", "))
	fs.IntVar(&o.concurrency, "c", 64, "concurrent clients")
	fs.DurationVar(&o.duration, "d", 10*time.Second, "how long to run (at most 5m)")
	fs.IntVar(&o.requests, "n", 0, "stop after this many requests (0: only the duration bounds the run)")
	fs.StringVar(&rawPids, "pid", "", "pid of the local server (several comma-separated), to report CPU time and peak RSS")
	fs.IntVar(&o.users, "users", 0, "users to spread the load over (default: one per client, at most 100); verify-reject sends 90 codes per user, verify-accept and full-login use each once")
	fs.BoolVar(&o.imported, "imported", false, "take users from an import made with -gen (same -seed, -first) instead of registering them")
	fs.StringVar(&o.seed, "seed", "twofold-load", "seed of the generated users' TOTP secrets (-gen, -imported)")
	fs.IntVar(&o.first, "first", 0, "index of the first generated user to use (-gen, -imported)")
	fs.IntVar(&o.gen, "gen", 0, "write an import file of this many users to stdout (for twofold user import) and exit")
	fs.StringVar(&o.genKind, "gen-kind", "totp", "generated users: totp (with a TOTP secret each) or plain (password only)")
	fs.BoolVar(&o.usr1, "usr1", false, "send SIGUSR1 to the -pid servers when set-up ends (a -tags pprof server with TWOFOLD_CPU_PROFILE_ON=usr1 then starts its CPU profile)")
	fs.StringVar(&o.password, "password", "load-test password 1", "password of the load-test users")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: twofold-load [flags]\n\nDrives a running twofold server and reports throughput, latency and server cost.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, usageError{err.Error()}
	}
	for _, raw := range strings.Split(rawURL, ",") {
		u, err := url.Parse(strings.TrimSpace(raw))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return o, usageError{"-url must be http(s) URLs such as http://127.0.0.1:8080"}
		}
		if !loopback(u.Hostname()) {
			return o, usageError{"-url must point at loopback addresses (127.0.0.0/8, ::1 or localhost)"}
		}
		o.bases = append(o.bases, u)
	}
	if rawPids != "" {
		for _, raw := range strings.Split(rawPids, ",") {
			pid, err := strconv.Atoi(strings.TrimSpace(raw))
			if err != nil || pid <= 0 {
				return o, usageError{"-pid must be process ids, comma-separated"}
			}
			o.pids = append(o.pids, pid)
		}
	}
	switch {
	case len(o.bases) > 16:
		return o, usageError{"-url: at most 16 servers"}
	case o.gen < 0 || o.gen > maxGenerated:
		return o, usageError{fmt.Sprintf("-gen must be 0..%d", maxGenerated)}
	case o.first < 0 || o.first > maxGenerated:
		return o, usageError{fmt.Sprintf("-first must be 0..%d", maxGenerated)}
	case o.genKind != "totp" && o.genKind != "plain":
		return o, usageError{"-gen-kind must be totp or plain"}
	case o.concurrency < 1 || o.concurrency > maxConcurrency:
		return o, usageError{fmt.Sprintf("-c must be 1..%d", maxConcurrency)}
	case o.duration <= 0 || o.duration > maxDuration:
		return o, usageError{"-d must be more than 0 and at most 5m"}
	case o.requests < 0 || o.requests > maxRequests:
		return o, usageError{fmt.Sprintf("-n must be 0..%d", maxRequests)}
	case o.users < 0 || o.users > maxUsers:
		return o, usageError{fmt.Sprintf("-users must be 0..%d", maxUsers)}
	case !o.imported && o.users > 100_000:
		return o, usageError{"-users above 100000 needs -imported (registering them through the API would take hours)"}
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
	if o.gen > 0 {
		return generate(ctx, stdout, o.genKind, o.first, o.gen, o.seed, o.password)
	}
	c := newClient(o.bases, o.concurrency)
	sc := scenarios[o.scenario]
	fmt.Fprintf(stderr, "setting up %s ...\n", o.scenario)
	setupStart := time.Now()
	work, err := sc(ctx, c, o)
	if err != nil {
		return fmt.Errorf("set-up: %w", err)
	}
	rep := report{opts: o, setup: time.Since(setupStart)}
	if o.usr1 {
		for _, pid := range o.pids {
			if p, err := os.FindProcess(pid); err == nil {
				_ = p.Signal(syscall.SIGUSR1)
			}
		}
	}
	self, err := readProc(os.Getpid())
	if err != nil {
		return fmt.Errorf("read own cpu time: %w", err)
	}
	befores := make([]procStats, len(o.pids))
	samplers := make([]*rssSampler, len(o.pids))
	for i, pid := range o.pids {
		if befores[i], err = readProc(pid); err != nil {
			return fmt.Errorf("-pid %d: %w", pid, err)
		}
		samplers[i] = sampleRSS(pid, 50*time.Millisecond)
	}
	rep.result = drive(ctx, o, work)
	for i, pid := range o.pids {
		after, err := readProc(pid)
		if err != nil {
			return fmt.Errorf("-pid %d: %w", pid, err)
		}
		rep.user += after.user - befores[i].user
		rep.sys += after.sys - befores[i].sys
		rep.peakRSS = append(rep.peakRSS, max(samplers[i].stop(), after.rss))
		rep.hasProc = true
	}
	if selfAfter, err := readProc(os.Getpid()); err == nil {
		rep.client = selfAfter.cpu() - self.cpu()
	}
	rep.print(stdout)
	return nil
}
