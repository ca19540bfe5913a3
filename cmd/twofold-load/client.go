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
// connections.
type client struct {
	base  string
	bases []string
	http  *http.Client
}

func newClient(bases []*url.URL, conns int) *client {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns * 2,
		MaxIdleConnsPerHost: conns * 2,
		IdleConnTimeout:     time.Minute,
	}
	c := &client{http: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
	for _, b := range bases {
		c.bases = append(c.bases, strings.TrimSuffix(b.String(), "/"))
	}
	c.base = c.bases[0]
	return c
}

// on returns the client for worker i: round-robin over the servers.
func (c *client) on(i int) *client {
	cc := *c
	cc.base = c.bases[i%len(c.bases)]
	return &cc
}

// session is one client's session cookie.
type session struct{ cookie string }

// call sends body (JSON) with the session's cookie, keeps the cookie the
// server sets, and decodes a JSON answer into out when out is not nil.
func (c *client) call(ctx context.Context, s *session, method, path string, body []byte, out any) (int, error) {
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
	}
	return "other"
}
