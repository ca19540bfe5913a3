package main

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"

	"github.com/twofold-auth/twofold/internal/password"
	"github.com/twofold-auth/twofold/internal/totp"
)

// Users for a run can come from `twofold user import` instead of the API:
// -gen N writes an import file of N users whose password is -password and
// whose TOTP secrets derive from -seed, so that a run given the same -seed
// knows every user's email and secret without enrolling anyone. The file
// holds one argon2id hash (at twofold's default parameters, so logins do not
// re-hash) shared by every user: computing a million hashes would take
// hours, and the server verifies each login in full either way. The secrets
// are derived, hence guessable from -seed: the file is for load tests only.

// importedEmail is the email of generated user i of the kind ("totp" or "plain").
func importedEmail(kind string, i int) string {
	return fmt.Sprintf("%s-%d@load.test", kind, i)
}

// importedSecret is generated user email's TOTP secret: the first 20 bytes of
// HMAC-SHA256(seed, email).
func importedSecret(seed, email string) []byte {
	m := hmac.New(sha256.New, []byte(seed))
	m.Write([]byte(email))
	return m.Sum(nil)[:20]
}

// generate writes n import lines of the kind, from user first on.
func generate(ctx context.Context, w io.Writer, kind string, first, n int, seed, pw string) error {
	h := password.New(password.DefaultParams, 1)
	hash, err := h.Hash(ctx, pw)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	type line struct {
		Email        string   `json:"email"`
		PasswordHash string   `json:"password_hash"`
		TOTPSecrets  []string `json:"totp_secrets,omitempty"`
	}
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for i := first; i < first+n; i++ {
		l := line{Email: importedEmail(kind, i), PasswordHash: hash}
		if kind == "totp" {
			l.TOTPSecrets = []string{totp.EncodeSecret(importedSecret(seed, l.Email))}
		}
		if err := enc.Encode(l); err != nil {
			return err
		}
	}
	return bw.Flush()
}
