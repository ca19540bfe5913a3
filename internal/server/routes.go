package server

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// addRoutes lists every route of twofold.
func addRoutes(mux *http.ServeMux, d Deps) {
	a := d.Auth
	authed := func(h authedHandler) http.Handler { return requireSession(a, authenticatedOnly, h) }
	pending := func(h authedHandler) http.Handler { return requireSession(a, pendingOnly, h) }

	// Sign-up, login, logout.
	mux.Handle("POST /api/register", handleRegister(a, d))
	mux.Handle("POST /api/login", handleLogin(a, d))
	mux.Handle("POST /api/logout", handleLogout(a, d))
	mux.Handle("GET /api/me", authed(handleMe(a)))
	mux.Handle("GET /api/events", authed(handleEvents(a)))

	// Second factor at login.
	mux.Handle("POST /api/2fa/verify", pending(handleVerify(a, d)))

	// Managing factors.
	mux.Handle("POST /api/2fa/setup", authed(handleTOTPSetup(a)))
	mux.Handle("POST /api/2fa/verify-setup", authed(handleTOTPVerifySetup(a)))
	mux.Handle("POST /api/2fa/backup-codes", authed(handleBackupCodes(a)))
	mux.Handle("DELETE /api/2fa/totp/{id}", authed(handleRemoveTOTP(a)))
	mux.Handle("POST /api/2fa/disable", authed(handleDisable(a)))
	mux.Handle("POST /api/reauthenticate", authed(handleReauthenticate(a, d)))

	// Web UI: /, /signup, /login, /login/2fa, /logout, /settings/... (see web.Pages.Routes).
	addPages(mux, d)

	// Ops.
	mux.Handle("GET /healthz", handleHealthz())
	mux.Handle("GET /readyz", handleReadyz(a))
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.Gatherer, promhttp.HandlerOpts{}))
}
