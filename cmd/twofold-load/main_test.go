package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestRefusesWhatIsNotLoopbackOrUnbounded(t *testing.T) {
	for _, args := range [][]string{
		{"-url", "http://example.com:8080"},
		{"-url", "http://10.0.0.1:8080"},
		{"-url", "ftp://127.0.0.1"},
		{"-d", "10m"},
		{"-d", "0s"},
		{"-c", "0"},
		{"-c", "5000"},
		{"-n", "-1"},
		{"-scenario", "nope"},
	} {
		_, err := parse(args, io.Discard)
		var u usageError
		if !errors.As(err, &u) {
			t.Errorf("%v: got %v, want a usage error", args, err)
		}
	}
	for _, host := range []string{"127.0.0.1:1", "localhost:1", "[::1]:1", "127.1.2.3:1"} {
		if _, err := parse([]string{"-url", "http://" + host}, io.Discard); err != nil {
			t.Errorf("%s refused: %v", host, err)
		}
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.add(time.Duration(i) * time.Millisecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Millisecond}, {0.9, 900 * time.Millisecond}, {0.99, 990 * time.Millisecond}, {1, time.Second}} {
		got := h.quantile(c.q)
		if got < c.want || float64(got) > float64(c.want)*1.011 {
			t.Errorf("p%v: got %v, want %v within 1%%", c.q*100, got, c.want)
		}
	}
	if h.max != time.Second {
		t.Errorf("max got %v", h.max)
	}
}

func TestHealthRunReportsCountsAndOwnProcess(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	var out bytes.Buffer
	err := run(context.Background(), []string{"-url", srv.URL, "-c", "4", "-n", "200", "-d", "30s",
		"-pid", strconv.Itoa(os.Getpid())}, &out, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"requests      200 ", "statuses      200: 200", "errors        0", "server cpu", "server rss    peak"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

func TestReadProcOfThisProcess(t *testing.T) {
	p, err := readProc(os.Getpid())
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	if p.rss < 1<<20 {
		t.Errorf("rss %d bytes: implausibly small", p.rss)
	}
}

func TestClientsStopWhenPreparedWorkRunsOut(t *testing.T) {
	o := options{concurrency: 3, duration: 30 * time.Second}
	res := drive(context.Background(), o, func(int) request {
		left := 5
		return func(context.Context) (int, error) {
			if left == 0 {
				return 0, errExhausted
			}
			left--
			return 401, nil
		}
	})
	if res.exhausted != 3 || res.statuses[401] != 15 || res.latency.n != 15 {
		t.Errorf("got exhausted=%d statuses=%v n=%d, want 3 clients stopped after 15 requests", res.exhausted, res.statuses, res.latency.n)
	}
	var out bytes.Buffer
	report{opts: o, result: res}.print(&out)
	if !strings.Contains(out.String(), "raise -users") {
		t.Errorf("report does not say the run ran out of sessions:\n%s", out.String())
	}
}

func TestUSR1IsSentToTheServersWhenSetUpEnds(t *testing.T) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGUSR1)
	defer signal.Stop(sig)
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { served.Add(1) }))
	defer srv.Close()
	err := run(context.Background(), []string{"-url", srv.URL, "-c", "2", "-n", "20", "-d", "30s",
		"-pid", strconv.Itoa(os.Getpid()), "-usr1"}, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	select { // signals arrive asynchronously
	case <-sig:
	case <-time.After(10 * time.Second):
		t.Fatalf("no SIGUSR1 after a run with -usr1 (%d requests served)", served.Load())
	}
}
