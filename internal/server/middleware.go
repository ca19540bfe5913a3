package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strings"
	"time"

	"github.com/twofold-auth/twofold/internal/auth"
)

// contentSecurityPolicy allows nothing from other origins and no inline script.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// securityHeaders sets the headers of SPEC §4 on every response. API
// responses may carry secrets or codes, so none of them is cached.
func securityHeaders(next http.Handler, secure bool) http.Handler {
	// Built once: each response shares these one-value slices (a handler
	// that sets or adds such a header gets a slice of its own, as
	// http.Header's Set and Add make one).
	fixed := map[string][]string{
		"Content-Security-Policy":      {contentSecurityPolicy},
		"X-Content-Type-Options":       {"nosniff"},
		"X-Frame-Options":              {"DENY"},
		"Referrer-Policy":              {"no-referrer"},
		"Cross-Origin-Opener-Policy":   {"same-origin"},
		"Cross-Origin-Resource-Policy": {"same-origin"},
	}
	if secure {
		fixed["Strict-Transport-Security"] = []string{"max-age=31536000"}
	}
	for k, v := range fixed {
		fixed[k] = v[:1:1] // full: an append copies
	}
	noStore := []string{"no-store"}[:1:1]
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		for k, v := range fixed {
			h[k] = v
		}
		if strings.HasPrefix(r.URL.Path, "/api/") {
			h["Cache-Control"] = noStore
		}
		next.ServeHTTP(w, r)
	})
}

// crossOrigin refuses state-changing requests that a browser sends from
// another origin (Sec-Fetch-Site, else Origin against Host); requests with
// neither header (curl, server to server) pass.
func crossOrigin(next http.Handler, origin string) http.Handler {
	cop := http.NewCrossOriginProtection()
	if origin != "" {
		// Behind a proxy the Host header may differ from the public origin.
		_ = cop.AddTrustedOrigin(origin)
	}
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body errorBody
		body.Error.Code, body.Error.Message = auth.CodeInvalidRequest, "cross-origin request refused"
		encode(w, http.StatusForbidden, body)
	}))
	return cop.Handler(next)
}

// recoverPanics turns a panic into 500 internal, logging the stack.
func recoverPanics(next http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.ErrorContext(r.Context(), "panic serving request", "panic", v, "stack", string(debug.Stack()))
				writeError(w, nil)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// requestInfo is what the outermost middleware (prepare) works out once
// for each request.
type requestInfo struct {
	id string // the request id (X-Request-Id)
	ip string // the client's address (resolveClientIP's rule)
}

type requestInfoKey struct{}

func infoOf(ctx context.Context) *requestInfo {
	ri, _ := ctx.Value(requestInfoKey{}).(*requestInfo)
	return ri
}

// RequestID returns the id given to the request that ctx belongs to.
func RequestID(ctx context.Context) string {
	if ri := infoOf(ctx); ri != nil {
		return ri.id
	}
	return ""
}

// prepare gives each request, in one context and one copy of the
// request: an id, its client's address (behind trusted proxies the
// rightmost X-Forwarded-For entry that is not a trusted proxy itself:
// entries to its left were written by the client and prove nothing;
// without trusted proxies the header is ignored), and a deadline of d.
func prepare(next http.Handler, trusted []netip.Prefix, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ri := &requestInfo{id: newRequestID(), ip: forwardedFor(r, trusted)}
		ctx, cancel := context.WithTimeout(context.WithValue(r.Context(), requestInfoKey{}, ri), d)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observe logs one line for each request (id, method, path, status,
// duration; never a body, query or cookie), records its metrics and tells
// the client the request's id.
func observe(next http.Handler, log *slog.Logger, m *Metrics) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := RequestID(r.Context())
		w.Header()["X-Request-Id"] = []string{id}
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		d := time.Since(start)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		m.observe(route, sw.status, d)
		level := slog.LevelInfo
		switch {
		case sw.status == http.StatusBadGateway || sw.status == http.StatusServiceUnavailable:
			level = slog.LevelWarn // a provider or the database is away, not a bug of ours
		case sw.status >= 500:
			level = slog.LevelError
		}
		log.LogAttrs(r.Context(), level, "request",
			slog.String("request_id", id),
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", sw.status),
			slog.Duration("duration", d),
			slog.String("ip", clientIP(r)),
		)
	})
}

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// requestDeadline bounds the work one request may do: a database that stops
// answering (a dropped network, not a refused connection) or a long queue for
// password hashing ends in 503 unavailable rather than a hung client. It is
// below the HTTP server's write timeout, so the answer still reaches the client.
const requestDeadline = 15 * time.Second

// forwardedFor is the client address of r given the trusted proxies.
func forwardedFor(r *http.Request, trusted []netip.Prefix) string {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	addr := peer.Addr().Unmap()
	if !isTrusted(addr, trusted) {
		return addr.String()
	}
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		parts := strings.Split(hops[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			a, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil {
				// Garbage where an address should be: stop believing the
				// chain and blame the last hop we could trust.
				return addr.String()
			}
			addr = a.Unmap()
			if !isTrusted(addr, trusted) {
				return addr.String()
			}
		}
	}
	return addr.String()
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientIP is the address the request came from.
func clientIP(r *http.Request) string {
	if ri := infoOf(r.Context()); ri != nil {
		return ri.ip
	}
	return forwardedFor(r, nil)
}

// client describes the requester to the service.
func client(r *http.Request) auth.Client {
	return auth.Client{IP: clientIP(r), UserAgent: r.UserAgent()}
}
