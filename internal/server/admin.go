package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/twofold-auth/twofold/internal/auth"
	"github.com/twofold-auth/twofold/internal/ratelimit"
)

// adminFailureRate bounds wrong admin tokens per IP. It is taken before the
// token is compared (and given back when it matches), so while an IP has
// none left every request from it is refused, right token or wrong: the
// limit never confirms a guess.
var adminFailureRate = ratelimit.Rate{N: 10, Per: time.Minute}

// requireAdmin returns a wrapper that runs a handler only for a request
// that carries "Authorization: Bearer <TWOFOLD_ADMIN_TOKEN>". Without a
// configured token the admin API is off and every request is 401
// unauthenticated. The tokens are compared as SHA-256 hashes in constant
// time, so neither the length nor the content of the configured token leaks
// through timing. Every route wrapped by one wrapper shares its limit.
func requireAdmin(token string) func(http.Handler) http.Handler {
	want := sha256.Sum256([]byte(token))
	limit := ratelimit.New(adminFailureRate, 10_000)
	return func(h http.Handler) http.Handler { return adminOnly(token, want, limit, h) }
}

func adminOnly(token string, want [sha256.Size]byte, limit *ratelimit.Limiter, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token == "" {
			writeError(w, auth.Errorf(auth.CodeUnauthenticated, "the admin API is off: set TWOFOLD_ADMIN_TOKEN to turn it on"))
			return
		}
		ip := auth.IPRateKey(clientIP(r)) // an IPv6 client counts by its /64
		if ok, wait := limit.Allow(ip, time.Now()); !ok {
			writeError(w, &auth.Error{Code: auth.CodeRateLimited, Message: "too many wrong admin tokens: wait and try again", RetryAfter: wait})
			return
		}
		given, ok := bearer(r)
		got := sha256.Sum256([]byte(given))
		if !ok || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			writeError(w, auth.Errorf(auth.CodeUnauthenticated, "a valid admin token is required (Authorization: Bearer ...)"))
			return
		}
		limit.Refund(ip)
		h.ServeHTTP(w, r)
	})
}

// bearer returns the token of an "Authorization: Bearer" header.
func bearer(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// adminClient describes an admin request for events.
func adminClient(r *http.Request) auth.Client {
	c := client(r)
	if c.UserAgent == "" {
		c.UserAgent = "admin API"
	}
	return c
}

func handleAdminCreateUser(a *auth.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in credentials
		if err := decode(w, r, &in); err != nil {
			writeError(w, err)
			return
		}
		u, err := a.CreateUser(r.Context(), adminClient(r), in.Email, in.Password)
		if err != nil {
			writeError(w, err)
			return
		}
		encode(w, http.StatusCreated, map[string]any{"user": toUser(u, false)})
	})
}

func handleAdminUsers(a *auth.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit, err := queryInt(r, "limit")
		if err != nil {
			writeError(w, err)
			return
		}
		q := r.URL.Query()
		if err := plainQuery(q, "email", "after"); err != nil {
			writeError(w, err)
			return
		}
		if after := q.Get("after"); after != "" && !auth.IsID(after) {
			writeError(w, auth.Errorf(auth.CodeInvalidRequest, "after is a user id"))
			return
		}
		ps, err := a.ListUsers(r.Context(), q.Get("email"), q.Get("after"), limit)
		if err != nil {
			writeError(w, err)
			return
		}
		out := make([]userJSON, 0, len(ps))
		for _, p := range ps {
			out = append(out, toUser(p.User, p.TwoFactorEnabled()))
		}
		encode(w, http.StatusOK, map[string]any{"users": out})
	})
}

// handleAdminUserAction answers POST /api/admin/users/{id}/...: 404 for an
// id of another form, else act's outcome, 204 when done.
func handleAdminUserAction(act func(ctx context.Context, c auth.Client, userID string) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := pathID(w, r, "user")
		if !ok {
			return
		}
		if err := act(r.Context(), adminClient(r), id); err != nil {
			writeError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

func handleAdminEvents(a *auth.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit, err := queryInt(r, "limit")
		if err != nil {
			writeError(w, err)
			return
		}
		q := r.URL.Query()
		f := auth.EventFilter{UserID: q.Get("user_id"), Type: q.Get("type"), Limit: limit}
		if len(f.UserID) > 64 || len(f.Type) > 64 {
			writeError(w, auth.Errorf(auth.CodeInvalidRequest, "user_id and type are at most 64 characters"))
			return
		}
		if err := plainQuery(q, "user_id", "type"); err != nil {
			writeError(w, err)
			return
		}
		evs, err := a.ListEvents(r.Context(), f)
		if err != nil {
			writeError(w, err)
			return
		}
		encode(w, http.StatusOK, map[string]any{"events": toEvents(evs)})
	})
}

// plainQuery refuses query parameters that are not UTF-8 text without
// control characters: nothing an id, an email or an event type holds, and
// PostgreSQL refuses a NUL in text (a 500 otherwise).
func plainQuery(q url.Values, names ...string) error {
	for _, n := range names {
		v := q.Get(n)
		if !utf8.ValidString(v) || strings.ContainsFunc(v, unicode.IsControl) {
			return auth.Errorf(auth.CodeInvalidRequest, "%s holds a byte that is not text", n)
		}
	}
	return nil
}
