package server

import (
	"errors"
	"net/http"

	"github.com/twofold-auth/twofold/internal/auth"
	"github.com/twofold-auth/twofold/internal/web"
)

// addPages adds the web UI (package web). It shares the API's session
// cookie helpers, client address, status table and login metrics, so a page
// and an API call behave alike.
func addPages(mux *http.ServeMux, d Deps) {
	p, err := web.New(web.Deps{
		Auth:         d.Auth,
		Log:          d.Logger,
		Client:       client,
		SessionToken: sessionToken,
		SetSession:   func(w http.ResponseWriter, tok string) { setSession(w, d, tok) },
		ClearSession: func(w http.ResponseWriter) { clearSession(w, d) },
		Status:       statusFor,
		LoginOutcome: d.Metrics.Login,

		TrustedDeviceTTL: d.TrustedDeviceTTL,
		DeviceToken:      func(r *http.Request) string { return deviceToken(r, d) },
		SetDevice:        func(w http.ResponseWriter, dc auth.DeviceCookie) { setDevice(w, d, dc, d.Auth.Now()) },
		RememberDevice: func(w http.ResponseWriter, r *http.Request, u auth.User, tok string) {
			rememberDevice(w, r, d, d.Auth, u, tok)
		},
	})
	if err != nil {
		// The templates are embedded: a failure here is a bug in this build.
		panic(err)
	}
	p.Routes(mux)
}

// statusFor is the HTTP status writeError gives err.
func statusFor(err error) int {
	var e *auth.Error
	if !errors.As(err, &e) {
		return http.StatusInternalServerError
	}
	if e.Code == auth.CodeInvalidCode && e.Setup {
		return http.StatusBadRequest
	}
	if s, ok := statusOf[e.Code]; ok {
		return s
	}
	return http.StatusInternalServerError
}
