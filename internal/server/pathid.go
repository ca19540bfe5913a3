package server

import (
	"context"
	"net/http"

	"github.com/twofold-auth/twofold/internal/auth"
)

// pathID returns the request's {id} when it has the form of the ids twofold
// makes (auth's newID: 32 lowercase hex digits). Otherwise it answers 404
// not_found, naming what, and returns false: no such thing can exist, and
// nothing else (a NUL byte or invalid UTF-8, which PostgreSQL text refuses)
// reaches the database.
func pathID(w http.ResponseWriter, r *http.Request, what string) (string, bool) {
	id := r.PathValue("id")
	if !auth.IsID(id) {
		writeError(w, auth.Errorf(auth.CodeNotFound, "no such %s", what))
		return "", false
	}
	return id, true
}

// handleRemove answers DELETE .../{id} for one of the user's things: 404
// for an id of another form, else remove's outcome, 204 when done.
func handleRemove(what string, remove func(ctx context.Context, c auth.Client, s auth.Session, u auth.User, id string) error) authedHandler {
	return func(w http.ResponseWriter, r *http.Request, s auth.Session, u auth.User) {
		id, ok := pathID(w, r, what)
		if !ok {
			return
		}
		if err := remove(r.Context(), client(r), s, u, id); err != nil {
			writeError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}
