package auth_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/twofold-auth/twofold/internal/auth"
	"github.com/twofold-auth/twofold/internal/password"
)

// formatHints is fixed text of the errors, which a value may happen to match.
const formatHints = "argon2id: want $argon2id$v=19$m=M,t=T,p=P$salt$hash; bcrypt: want $2b$NN$ and 53 characters; not argon2id ($argon2id$...) or bcrypt ($2a$, $2b$, $2y$)"

// FuzzParseImportLine checks that any line is either refused with
// invalid_request, without quoting a long value of the line (a hash or a
// secret), or gives a user whose email is normalised, whose hash Verify
// would run, and whose TOTP secrets are within bounds.
func FuzzParseImportLine(f *testing.F) {
	for _, s := range []string{
		`{"email":"ada@example.com","password_hash":"$2b$10$abcdefghijklmnopqrstuuQ6NTuCf9Ak4jUu4CZ3ohfd7BvtBhP8S"}`,
		`{"email":"Ada@Example.com","password_hash":"$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHRzb21lc2FsdA$GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434IimaPqxwCo","totp_secrets":["JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"]}`,
		`{"email":"x@example.com","password_hash":"$2y$04$` + strings.Repeat("a", 53) + `","totp_secret":"jbsw y3dp ehpk 3pxp jbsw y3dp"}`,
		`{"email":"x@example.com"}`, `{}`, `[]`, `null`, `{"email":1}`, `{"email":"x@example.com","password_hash":"$argon2id$"} x`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		u, err := auth.ParseImportLine(line)
		if err != nil {
			if auth.ErrorCode(err) != auth.CodeInvalidRequest {
				t.Fatalf("error code %s, want invalid_request", auth.ErrorCode(err))
			}
			var m map[string]any
			if json.Unmarshal(line, &m) == nil {
				for _, v := range m {
					vals := []any{v}
					if l, ok := v.([]any); ok {
						vals = l
					}
					for _, v := range vals {
						if s, ok := v.(string); ok && len(s) >= 16 && strings.Contains(err.Error(), s) && !strings.Contains(formatHints, s) {
							t.Fatalf("the error quotes a value of the line")
						}
					}
				}
			}
			return
		}
		if norm, err := auth.NormalizeEmail(u.Email); err != nil || norm != u.Email {
			t.Fatalf("email not normalised")
		}
		if err := password.Check(u.PasswordHash); err != nil {
			t.Fatalf("accepted a hash Check refuses: %v", err)
		}
		if len(u.TOTPSecrets) > auth.MaxImportTOTP {
			t.Fatalf("%d secrets", len(u.TOTPSecrets))
		}
		for _, s := range u.TOTPSecrets {
			if len(s) < 16 || len(s) > 128 {
				t.Fatalf("secret of %d bytes", len(s))
			}
		}
	})
}
