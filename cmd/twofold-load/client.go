package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// client sends JSON requests to base, one of the servers, over kept-alive
// connections: net/http's for set-up, where several goroutines share a
// client, and a connection of its own (raw) for each measured client.
type client struct {
	base  string
	bases []*url.URL
	http  *http.Client
	raw   *rawConn
	// prefix is base's path, which raw puts before each request's.
	prefix string
}

func newClient(bases []*url.URL, conns int) *client {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns * 2,
		MaxIdleConnsPerHost: conns * 2,
		IdleConnTimeout:     time.Minute,
	}
	c := &client{http: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
	c.bases = bases
	c.base = strings.TrimSuffix(bases[0].String(), "/")
	return c
}

// on returns the client for worker i, round-robin over the servers, with
// a connection of its own (plain HTTP) that only worker i may use.
func (c *client) on(i int) *client {
	cc := *c
	u := c.bases[i%len(c.bases)]
	cc.base = strings.TrimSuffix(u.String(), "/")
	cc.raw, cc.prefix = nil, strings.TrimSuffix(u.EscapedPath(), "/")
	if u.Scheme == "http" {
		port := u.Port()
		if port == "" {
			port = "80"
		}
		cc.raw = newRawConn(net.JoinHostPort(u.Hostname(), port), u.Host)
	}
	return &cc
}

// close closes c's own connection, if it has one.
func (c *client) close() {
	if c.raw != nil {
		c.raw.close()
	}
}

// session is one client's session cookie.
type session struct{ cookie string }

// call sends body (JSON) with the session's cookie, keeps the cookie the
// server sets, and decodes a JSON answer into out when out is not nil.
func (c *client) call(ctx context.Context, s *session, method, path string, body []byte, out any) (int, error) {
	if c.raw != nil {
		cookie := ""
		if s != nil {
			cookie = s.cookie
		}
		res, err := c.raw.do(ctx, method, c.prefix+path, cookie, body)
		if err != nil {
			return 0, err
		}
		if s != nil && res.cookieSet {
			s.cookie = res.setCookie
		}
		if out != nil && res.json {
			if err := json.Unmarshal(res.body, out); err != nil {
				return res.status, fmt.Errorf("decode %s: %w", path, err)
			}
		}
		return res.status, nil
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if s != nil && s.cookie != "" {
		req.Header.Set("Cookie", "twofold_session="+s.cookie)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	if s != nil {
		for _, ck := range res.Cookies() {
			if ck.Name == "twofold_session" {
				s.cookie = ck.Value
			}
		}
	}
	if out != nil && strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		if err := json.NewDecoder(res.Body).Decode(out); err != nil {
			return res.StatusCode, fmt.Errorf("decode %s: %w", path, err)
		}
		return res.StatusCode, nil
	}
	_, err = io.Copy(io.Discard, res.Body)
	return res.StatusCode, err
}

// errorKind names an error for the report without its details.
func errorKind(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout"
	case strings.Contains(err.Error(), "connection refused"):
		return "connection refused"
	case strings.Contains(err.Error(), "connection reset"):
		return "connection reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed"
	case errors.Is(err, errMalformed):
		return "malformed response"
	}
	return "other"
}
