package server

import (
	"context"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/twofold-auth/twofold/internal/auth"
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
	mux.Handle("POST /api/2fa/send", pending(handleSend(a)))
	mux.Handle("POST /api/webauthn/authenticate/start", handleWebAuthnAuthenticateStart(a, d))
	mux.Handle("POST /api/webauthn/authenticate/complete", handleWebAuthnAuthenticateComplete(a, d))

	// Managing factors.
	mux.Handle("POST /api/2fa/setup", authed(handleTOTPSetup(a)))
	mux.Handle("POST /api/2fa/verify-setup", authed(handleTOTPVerifySetup(a)))
	mux.Handle("POST /api/2fa/backup-codes", authed(handleBackupCodes(a)))
	mux.Handle("DELETE /api/2fa/totp/{id}", authed(handleRemove("authenticator app", a.RemoveTOTP)))
	mux.Handle("POST /api/2fa/disable", authed(handleDisable(a)))
	mux.Handle("POST /api/sms/setup", authed(handleSMSSetup(a)))
	mux.Handle("POST /api/sms/verify-setup", authed(handleSMSVerifySetup(a)))
	mux.Handle("DELETE /api/sms/{id}", authed(handleRemove("phone", a.RemoveSMS)))
	mux.Handle("POST /api/webauthn/register/start", authed(handleWebAuthnRegisterStart(a)))
	mux.Handle("POST /api/webauthn/register/complete", authed(handleWebAuthnRegisterComplete(a)))
	mux.Handle("DELETE /api/webauthn/credentials/{id}", authed(handleRemove("security key", a.RemoveWebAuthnCredential)))
	mux.Handle("POST /api/reauthenticate", authed(handleReauthenticate(a, d)))
	mux.Handle("POST /api/password", authed(handleChangePassword(a, d)))

	// Trusted devices.
	mux.Handle("GET /api/devices", authed(handleDevices(a, d)))
	mux.Handle("DELETE /api/devices/{id}", authed(handleRemove("device", func(ctx context.Context, c auth.Client, _ auth.Session, u auth.User, id string) error {
		return a.RevokeDevice(ctx, c, u, id)
	})))

	// Admin (bearer token; off without one).
	admin := requireAdmin(d.AdminToken)
	mux.Handle("POST /api/admin/users", admin(handleAdminCreateUser(a)))
	mux.Handle("GET /api/admin/users", admin(handleAdminUsers(a)))
	mux.Handle("POST /api/admin/users/{id}/reset-2fa", admin(handleAdminUserAction(a.ResetTwoFactor)))
	mux.Handle("POST /api/admin/users/{id}/unlock", admin(handleAdminUserAction(a.Unlock)))
	mux.Handle("GET /api/admin/events", admin(handleAdminEvents(a)))

	// Web UI: /, /signup, /login, /login/2fa, /logout, /settings/... (see web.Pages.Routes).
	addPages(mux, d)

	// Ops.
	mux.Handle("GET /healthz", handleHealthz())
	mux.Handle("GET /readyz", handleReadyz(a))
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.Gatherer, promhttp.HandlerOpts{}))
}
