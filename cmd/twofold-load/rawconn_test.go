package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func read(t *testing.T, raw string) (rawResponse, bool, error) {
	t.Helper()
	return readResponse(bufio.NewReader(strings.NewReader(raw)), nil)
}

func TestReadResponseFraming(t *testing.T) {
	for _, tc := range []struct {
		name, raw  string
		status     int
		body       string
		keep, json bool
		cookie     string
	}{
		{"content length", "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"a\":\"bc\"}\nNEXT",
			401, "{\"a\":\"bc\"}\n", true, true, ""},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
			200, "abcde", true, false, ""},
		{"cookie and close", "HTTP/1.1 200 OK\r\nset-cookie: twofold_session=tok-1; Path=/; HttpOnly\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
			200, "", false, false, "tok-1"},
		{"cleared cookie", "HTTP/1.1 204 No Content\r\nSet-Cookie: twofold_session=; Max-Age=0\r\n\r\n",
			204, "", true, false, ""},
		{"until close", "HTTP/1.0 200 OK\nContent-Type: application/json; charset=utf-8\n\n{}",
			200, "{}", false, true, ""},
		{"interim answer first", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx",
			200, "x", true, false, ""},
		{"close among tokens", "HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\nContent-Length: 0\r\n\r\n",
			200, "", false, false, ""},
		{"chunked with trailer", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nX-T: 1\r\n\r\n",
			200, "a", true, false, ""},
		{"other cookie", "HTTP/1.1 200 OK\r\nSet-Cookie: other=x\r\nContent-Length: 0\r\n\r\n",
			200, "", true, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, keep, err := read(t, tc.raw)
			if err != nil {
				t.Fatal(err)
			}
			if res.status != tc.status || string(res.body) != tc.body || keep != tc.keep || res.json != tc.json {
				t.Errorf("got status %d body %q keep %v json %v; want %d %q %v %v", res.status, res.body, keep, res.json, tc.status, tc.body, tc.keep, tc.json)
			}
			wantSet := strings.Contains(tc.raw, "twofold_session=")
			if res.cookieSet != wantSet || res.setCookie != tc.cookie {
				t.Errorf("cookie %q (set %v), want %q (set %v)", res.setCookie, res.cookieSet, tc.cookie, wantSet)
			}
		})
	}
}

func TestReadResponseRefusesWhatIsNotHTTP(t *testing.T) {
	for _, raw := range []string{
		"",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab",              // short body
		"SSH-2.0-OpenSSH\r\n\r\n",                                     // not HTTP
		"HTTP/1.1 2x0 OK\r\n\r\n",                                     // bad code
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",               // bad length
		"HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n",      // over the bound
		"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",                    // bad header
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",          // unknown coding
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", // bad chunk
		"HTTP/1.1 200 OK\r\nX: " + strings.Repeat("a", 20000) + "\r\n\r\n",
		"HTTP/1.1 200 OK\r\n" + strings.Repeat("X: "+strings.Repeat("a", 1000)+"\r\n", 70) + "\r\n", // headers over 64 KiB
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",                       // two lengths
		"HTTP/1.1 101 Switching Protocols\r\n\r\n",
	} {
		if res, _, err := read(t, raw); err == nil {
			t.Errorf("%.40q: read as status %d, want an error", raw, res.status)
		}
	}
}

func FuzzReadResponse(f *testing.F) {
	f.Add("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	f.Add("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n")
	f.Add("HTTP/1.1 401 Unauthorized\r\nSet-Cookie: twofold_session=x; Path=/\r\nContent-Length: 0\r\n\r\n")
	f.Fuzz(func(t *testing.T, raw string) {
		res, _, err := readResponse(bufio.NewReader(strings.NewReader(raw)), nil)
		if err == nil && (res.status < 100 || res.status > 999 || len(res.body) > maxBody) {
			t.Errorf("accepted status %d with %d body bytes", res.status, len(res.body))
		}
	})
}

// TestRawConnKeepsAliveAndRedials sends requests over one connection,
// which the server then closes; the next request dials again, and what
// the server read is what net/http's client would have sent.
func TestRawConnKeepsAliveAndRedials(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.URL.Path == "/close" {
			w.Header().Set("Connection", "close")
		}
		cookie, _ := r.Cookie("twofold_session")
		if cookie != nil {
			http.SetCookie(w, &http.Cookie{Name: "twofold_session", Value: cookie.Value + "+"})
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"method":%q,"body":%q,"type":%q,"len":%d}`, r.Method, body, r.Header.Get("Content-Type"), r.ContentLength)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	u := srv.Listener.Addr().String()
	c := &client{raw: newRawConn(u, u)}
	ctx := context.Background()
	s := &session{cookie: "c"}
	var out struct {
		Method, Body, Type string
		Len                int
	}
	var got []string
	for _, p := range []string{"/a", "/close", "/b"} {
		st, err := c.call(ctx, s, "POST", p, []byte(`{"x":1}`), &out)
		if err != nil || st != 200 {
			t.Fatalf("%s: %d %v", p, st, err)
		}
		got = append(got, out.Method+" "+out.Body+" "+out.Type)
	}
	if st, err := c.call(ctx, nil, "POST", "/empty", nil, &out); err != nil || st != 200 || out.Body != "" || out.Type != "" || out.Len != 0 {
		t.Errorf("POST without a body: %d %v %+v", st, err, out)
	}
	for _, g := range got {
		if g != `POST {"x":1} application/json` {
			t.Errorf("server read %q", g)
		}
	}
	if s.cookie != "c+++" {
		t.Errorf("session cookie %q, want c+++ (kept from each answer)", s.cookie)
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections, want 2 (one kept alive, one after the server closed it)", n)
	}
}

// TestRawConnEndOfRunIsNotAnError: a request cut off by the end of the run
// reports the context's deadline, which drive does not count as an error.
func TestRawConnEndOfRunIsNotAnError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // accepts and never answers
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	r := newRawConn(ln.Addr().String(), "x")
	if _, err := r.do(ctx, "GET", "/", "", nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("cut off: got %v, want the context's deadline", err)
	}
	if _, err := r.do(ctx, "GET", "/", "", nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("after the end: got %v, want the context's deadline", err)
	}
}
