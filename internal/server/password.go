package server

import (
	"net/http"

	"github.com/twofold-auth/twofold/internal/auth"
)

func handleChangePassword(a *auth.Service, d Deps) authedHandler {
	return func(w http.ResponseWriter, r *http.Request, s auth.Session, u auth.User) {
		var in struct {
			CurrentPassword string `json:"current_password"`
			NewPassword     string `json:"new_password"`
		}
		if err := decode(w, r, &in); err != nil {
			writeError(w, err)
			return
		}
		tok, err := a.ChangePassword(r.Context(), client(r), s, u, in.CurrentPassword, in.NewPassword)
		if err != nil {
			writeError(w, err)
			return
		}
		setSession(w, d, tok)
		w.WriteHeader(http.StatusNoContent)
	}
}
