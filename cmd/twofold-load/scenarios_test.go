package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twofold-auth/twofold/internal/auth"
	"github.com/twofold-auth/twofold/internal/password"
	"github.com/twofold-auth/twofold/internal/totp"
)

func TestRefusesBadServerListsAndGeneration(t *testing.T) {
	for _, args := range [][]string{
		{"-url", "http://127.0.0.1:1,http://example.com:1"},
		{"-url", "http://127.0.0.1:1,"},
		{"-pid", "12,x"},
		{"-users", "200000"}, // needs -imported
		{"-imported", "-users", "2000000"},
		{"-gen", "-1"},
		{"-gen-kind", "other"},
	} {
		_, err := parse(args, io.Discard)
		var u usageError
		if !errors.As(err, &u) {
			t.Errorf("%v: got %v, want a usage error", args, err)
		}
	}
	o, err := parse([]string{"-url", "http://127.0.0.1:1, http://localhost:2", "-pid", "3,4", "-imported", "-users", "1000000"}, io.Discard)
	if err != nil || len(o.bases) != 2 || len(o.pids) != 2 {
		t.Errorf("two servers and pids: got %d servers, %d pids, %v", len(o.bases), len(o.pids), err)
	}
}

func TestGeneratedUsersImportAndVerify(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-gen", "3", "-first", "5", "-seed", "s1", "-password", "gen password 1"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("got %d lines, want 3", len(lines))
	}
	h := password.New(password.DefaultParams, 1)
	for i, l := range lines {
		u, err := auth.ParseImportLine([]byte(l))
		if err != nil {
			t.Fatalf("line %d does not parse as an import line: %v", i+1, err)
		}
		if want := importedEmail("totp", 5+i); u.Email != want {
			t.Errorf("line %d: email %q, want %q", i+1, u.Email, want)
		}
		if len(u.TOTPSecrets) != 1 || !bytes.Equal(u.TOTPSecrets[0], importedSecret("s1", u.Email)) {
			t.Errorf("line %d: the secret is not the one derived from the seed", i+1)
		}
		if i == 0 {
			ok, rehash, err := h.Verify(context.Background(), "gen password 1", u.PasswordHash)
			if !ok || rehash || err != nil {
				t.Errorf("generated hash: ok=%v rehash=%v err=%v, want a match at the default parameters", ok, rehash, err)
			}
		}
	}
	out.Reset()
	if err := run(context.Background(), []string{"-gen", "1", "-gen-kind", "plain"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if u, err := auth.ParseImportLine(bytes.TrimSpace(out.Bytes())); err != nil || len(u.TOTPSecrets) != 0 || u.Email != "plain-0@load.test" {
		t.Errorf("plain user: %+v, %v", u.Email, err)
	}
}

func TestRoundRobinOverServers(t *testing.T) {
	var hits [2]atomic.Int64
	var servers [2]*httptest.Server
	for i := range servers {
		servers[i] = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits[i].Add(1) }))
		defer servers[i].Close()
	}
	var out bytes.Buffer
	err := run(context.Background(), []string{"-url", servers[0].URL + "," + servers[1].URL, "-c", "4", "-n", "400", "-d", "30s"}, &out, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := hits[0].Load(), hits[1].Load(); a == 0 || b == 0 || a+b != 400 {
		t.Errorf("hits %d and %d, want both servers used, 400 in all", a, b)
	}
	if !strings.Contains(out.String(), "2 server(s)") {
		t.Errorf("report does not say 2 servers:\n%s", out.String())
	}
}

// fakeTOTPServer answers /api/login with a pending session and
// /api/2fa/verify by checking the code against the generated secret, each
// session at most once, like twofold.
type fakeTOTPServer struct {
	mu       sync.Mutex
	seed     string
	sessions map[string]string // cookie -> email
	done     map[string]bool   // cookie -> verified
	logins   int
	replays  int
}

func (f *fakeTOTPServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body map[string]string
	json.NewDecoder(r.Body).Decode(&body)
	f.mu.Lock()
	defer f.mu.Unlock()
	switch r.URL.Path {
	case "/api/login":
		f.logins++
		tok := body["email"] + "#" + time.Now().String()
		f.sessions[tok] = body["email"]
		http.SetCookie(w, &http.Cookie{Name: "twofold_session", Value: tok})
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"2fa_required"}`)
	case "/api/2fa/verify":
		ck, err := r.Cookie("twofold_session")
		email, ok := "", false
		if err == nil {
			email, ok = f.sessions[ck.Value]
		}
		if !ok {
			w.WriteHeader(401)
			return
		}
		if f.done[ck.Value] {
			f.replays++
			w.WriteHeader(401)
			return
		}
		if _, ok := totp.Verify(importedSecret(f.seed, email), body["code"], time.Now(), 1, totp.Default); !ok {
			w.WriteHeader(401)
			return
		}
		f.done[ck.Value] = true
	}
}

func TestVerifyAcceptUsesEachSessionOnceWithCorrectCodes(t *testing.T) {
	f := &fakeTOTPServer{seed: "s2", sessions: map[string]string{}, done: map[string]bool{}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	var out bytes.Buffer
	err := run(context.Background(), []string{"-url", srv.URL, "-scenario", "verify-accept", "-imported", "-seed", "s2",
		"-users", "50", "-c", "4", "-d", "30s"}, &out, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if f.logins != 50 || len(f.done) != 50 || f.replays != 0 {
		t.Errorf("logins %d, sessions verified %d, replays %d: want 50, 50, 0", f.logins, len(f.done), f.replays)
	}
	report := out.String()
	for _, want := range []string{"requests      50 ", "statuses      200: 50", "set-up"} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
}

func TestFullLoginSignsEachUserInOnce(t *testing.T) {
	f := &fakeTOTPServer{seed: "s3", sessions: map[string]string{}, done: map[string]bool{}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	var out bytes.Buffer
	err := run(context.Background(), []string{"-url", srv.URL, "-scenario", "full-login", "-imported", "-seed", "s3",
		"-users", "30", "-c", "3", "-d", "30s"}, &out, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	emails := map[string]bool{}
	for ck := range f.done {
		emails[f.sessions[ck]] = true
	}
	if f.logins != 30 || len(emails) != 30 || f.replays != 0 {
		t.Errorf("logins %d, users verified %d, replays %d: want 30, 30, 0", f.logins, len(emails), f.replays)
	}
	sc := bufio.NewScanner(strings.NewReader(out.String()))
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "statuses") && sc.Text() != "statuses      200: 30" {
			t.Errorf("statuses line %q, want 30 successes", sc.Text())
		}
	}
}
