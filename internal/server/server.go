package server

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/twofold-auth/twofold/internal/auth"
)

// Deps are what the HTTP interface needs.
type Deps struct {
	Auth   *auth.Service
	Logger *slog.Logger
	// Metrics records request and login metrics; see NewMetrics.
	Metrics *Metrics
	// Gatherer serves /metrics.
	Gatherer prometheus.Gatherer
	// Origin is the public origin (scheme://host[:port]); Secure cookies when https.
	Origin string
	Secure bool
	// AdminToken enables the admin API when not empty.
	AdminToken string
	// TrustedDeviceTTL is the lifetime of "remember this device" (0: off).
	TrustedDeviceTTL time.Duration
	// TrustedProxies are the load balancers whose X-Forwarded-For header
	// names the client; requests from anywhere else are taken at their
	// connection's address.
	TrustedProxies []netip.Prefix
}

// New returns the handler for every route of twofold.
func New(d Deps) http.Handler {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Metrics == nil {
		d.Metrics = NewMetrics(prometheus.NewRegistry())
	}
	mux := http.NewServeMux()
	addRoutes(mux, d)
	var h http.Handler = jsonFallbacks(mux)
	h = crossOrigin(h, d.Origin)
	h = securityHeaders(h, d.Secure)
	h = recoverPanics(h, d.Logger)
	// observe reads the route the mux matched from the request it passed
	// on, so nothing between it and the mux may copy the request.
	h = observe(h, d.Logger, d.Metrics)
	h = prepare(h, d.TrustedProxies, requestDeadline)
	return h
}

// jsonFallbacks answers requests that match no route (404, or 405 for a known
// path with another method) with the JSON error envelope under /api/.
func jsonFallbacks(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" || !strings.HasPrefix(r.URL.Path, "/api/") {
			mux.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", rec.Header().Get("Allow"))
			var body errorBody
			body.Error.Code, body.Error.Message = auth.CodeInvalidRequest, "method not allowed"
			encode(w, http.StatusMethodNotAllowed, body)
			return
		}
		writeError(w, auth.Errorf(auth.CodeNotFound, "no such endpoint"))
	})
}
