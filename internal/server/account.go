package server

import (
	"context"
	"net/http"
	"time"

	"github.com/twofold-auth/twofold/internal/auth"
)

type credentials struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

func handleRegister(a *auth.Service, d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in credentials
		if err := decode(w, r, &in); err != nil {
			writeError(w, err)
			return
		}
		res, err := a.Register(r.Context(), client(r), in.Email, in.Password)
		if err != nil {
			writeError(w, err)
			return
		}
		// A session the browser already had is replaced.
		_ = a.Logout(r.Context(), sessionToken(r))
		setSession(w, d, res.Token)
		encode(w, http.StatusCreated, map[string]any{"user": toUser(res.User, false)})
	})
}

func handleLogin(a *auth.Service, d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in credentials
		if err := decode(w, r, &in); err != nil {
			writeError(w, err)
			return
		}
		res, err := a.LoginWithDevice(r.Context(), client(r), in.Email, in.Password, deviceToken(r, d), d.TrustedDeviceTTL)
		if err != nil {
			d.Metrics.Login(string(auth.ErrorCode(err)))
			writeError(w, err)
			return
		}
		d.Metrics.Login(res.Status)
		_ = a.Logout(r.Context(), sessionToken(r))
		setSession(w, d, res.Token)
		setDevice(w, d, res.Device, a.Now())
		if res.Status == "2fa_required" {
			encode(w, http.StatusOK, map[string]any{"status": res.Status, "methods": res.Methods})
			return
		}
		encode(w, http.StatusOK, map[string]any{"status": res.Status, "user": toUser(res.User, len(res.Methods) > 0)})
	})
}

func handleLogout(a *auth.Service, d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := a.Logout(r.Context(), sessionToken(r)); err != nil {
			writeError(w, err)
			return
		}
		clearSession(w, d)
		w.WriteHeader(http.StatusNoContent)
	})
}

func handleMe(a *auth.Service) authedHandler {
	return func(w http.ResponseWriter, r *http.Request, s auth.Session, u auth.User) {
		p, err := a.Profile(r.Context(), u)
		if err != nil {
			writeError(w, err)
			return
		}
		encode(w, http.StatusOK, map[string]any{
			"user": toUser(u, p.TwoFactorEnabled()),
			"methods": map[string]any{
				"totp":                   toMethods(p.TOTP),
				"webauthn":               toMethods(p.WebAuthn),
				"sms":                    toMethods(p.SMS),
				"backup_codes_remaining": p.BackupCodesRemaining,
			},
		})
	}
}

func handleEvents(a *auth.Service) authedHandler {
	return func(w http.ResponseWriter, r *http.Request, s auth.Session, u auth.User) {
		limit, err := queryInt(r, "limit")
		if err != nil {
			writeError(w, err)
			return
		}
		evs, err := a.Events(r.Context(), u.ID, limit)
		if err != nil {
			writeError(w, err)
			return
		}
		encode(w, http.StatusOK, map[string]any{"events": toEvents(evs)})
	}
}

func handleHealthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		encode(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

// readyzTimeout bounds the database check of /readyz.
const readyzTimeout = 2 * time.Second

func handleReadyz(a *auth.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A load balancer's probe wants a quick answer, not a hung check.
		ctx, cancel := context.WithTimeout(r.Context(), readyzTimeout)
		defer cancel()
		if err := a.Ready(ctx); err != nil {
			writeError(w, auth.Errorf(auth.CodeUnavailable, "the database does not answer"))
			return
		}
		encode(w, http.StatusOK, map[string]string{"status": "ready"})
	})
}
