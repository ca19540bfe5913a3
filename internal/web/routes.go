package web

import "net/http"

// Routes adds every page of the web UI to mux. State changes are POST only
// (the server's cross-origin protection covers them); GETs change nothing.
func (p *Pages) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", p.handleRoot)
	mux.Handle("GET /static/{file...}", serveStatic())

	// Sign-up, login, second factor, logout.
	mux.HandleFunc("GET /signup", p.handleSignupPage)
	mux.HandleFunc("POST /signup", p.handleSignup)
	mux.HandleFunc("GET /login", p.handleLoginPage)
	mux.HandleFunc("POST /login", p.handleLogin)
	mux.HandleFunc("GET /login/2fa", p.pending(p.handleTwoFAPage))
	mux.HandleFunc("POST /login/2fa", p.pending(p.handleTwoFA))
	mux.HandleFunc("POST /logout", p.handleLogout)

	// Settings. Changes that need recent authentication go through p.act,
	// which shows the re-authentication prompt when the service asks for it.
	mux.HandleFunc("GET /settings", p.authed(p.handleSettings))
	mux.HandleFunc("POST /settings/totp", p.authed(p.act(func(r *http.Request) action {
		return action{Kind: actTOTPSetup, Name: r.PostFormValue("name")}
	})))
	mux.HandleFunc("GET /settings/totp", p.authed(p.act(func(*http.Request) action { return action{Kind: actTOTPResume} })))
	mux.HandleFunc("POST /settings/totp/confirm", p.authed(p.handleTOTPConfirm))
	mux.HandleFunc("POST /settings/totp/{id}/remove", p.authed(p.act(func(r *http.Request) action {
		return action{Kind: actTOTPRemove, ID: r.PathValue("id")}
	})))
	mux.HandleFunc("POST /settings/backup-codes", p.authed(p.act(func(*http.Request) action { return action{Kind: actBackupCodes} })))
	mux.HandleFunc("POST /settings/reauth", p.authed(p.handleReauth))

	// Security keys and passkeys, SMS, trusted devices, password
	// (features.go). The WebAuthn ceremonies of the prompt and of "Sign in
	// with a passkey" call the JSON API from static/webauthn.js.
	mux.HandleFunc("POST /login/2fa/send", p.pending(p.handleSend))
	mux.HandleFunc("POST /settings/webauthn", p.authed(p.act(func(r *http.Request) action {
		return action{Kind: actWebAuthnAdd, Name: r.PostFormValue("name")}
	})))
	mux.HandleFunc("POST /settings/webauthn/complete", p.authed(p.handleWebAuthnComplete))
	mux.HandleFunc("POST /settings/webauthn/{id}/remove", p.authed(p.act(func(r *http.Request) action {
		return action{Kind: actWebAuthnRemove, ID: r.PathValue("id")}
	})))
	mux.HandleFunc("POST /settings/phone", p.authed(p.act(func(r *http.Request) action {
		return action{Kind: actPhoneSetup, Phone: r.PostFormValue("phone"), Name: r.PostFormValue("name")}
	})))
	mux.HandleFunc("POST /settings/phone/confirm", p.authed(p.handlePhoneConfirm))
	mux.HandleFunc("POST /settings/phone/{id}/remove", p.authed(p.act(func(r *http.Request) action {
		return action{Kind: actPhoneRemove, ID: r.PathValue("id")}
	})))
	mux.HandleFunc("POST /settings/devices/{id}/revoke", p.authed(p.act(func(r *http.Request) action {
		return action{Kind: actDeviceRevoke, ID: r.PathValue("id")}
	})))
	mux.HandleFunc("POST /settings/password", p.authed(p.handlePassword))
	mux.HandleFunc("POST /settings/resume", p.authed(p.handleResume))
}
