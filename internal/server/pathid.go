package server

import (
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
	if !isID(id) {
		writeError(w, auth.Errorf(auth.CodeNotFound, "no such %s", what))
		return "", false
	}
	return id, true
}

func isID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := range len(s) {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
