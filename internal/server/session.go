package server

import (
	"net/http"

	"github.com/twofold-auth/twofold/internal/auth"
)

// SessionCookie is the name of the session cookie (SPEC §2).
const SessionCookie = "twofold_session"

// setSession sets the session cookie to token.
func setSession(w http.ResponseWriter, d Deps, token string) {
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: token, Path: "/",
		HttpOnly: true, Secure: d.Secure, SameSite: http.SameSiteLaxMode,
	})
}

// clearSession tells the browser to drop the session cookie.
func clearSession(w http.ResponseWriter, d Deps) {
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: d.Secure, SameSite: http.SameSiteLaxMode,
	})
}

func sessionToken(r *http.Request) string {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return ""
	}
	return c.Value
}

// authedHandler serves a request whose session has been checked.
type authedHandler func(w http.ResponseWriter, r *http.Request, s auth.Session, u auth.User)

type stateRule int

const (
	authenticatedOnly stateRule = iota
	pendingOnly
)

// requireSession runs h only for a live session in the state rule asks for;
// otherwise 401 unauthenticated.
func requireSession(a *auth.Service, rule stateRule, h authedHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, u, err := a.Authenticate(r.Context(), sessionToken(r))
		if err != nil {
			writeError(w, err)
			return
		}
		want := auth.StateAuthenticated
		if rule == pendingOnly {
			want = auth.StatePending
		}
		if s.State != want {
			writeError(w, auth.Errorf(auth.CodeUnauthenticated, "this needs a %s session", want))
			return
		}
		h(w, r, s, u)
	})
}
