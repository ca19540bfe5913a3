package auth_test

import (
	"strings"
	"testing"

	"github.com/twofold-auth/twofold/internal/auth"
)

// FuzzNormalizePhone checks that any input either is refused with
// invalid_request or gives a canonical E.164 number that normalises to
// itself and masks to all but its last two digits.
func FuzzNormalizePhone(f *testing.F) {
	for _, s := range []string{"+14155550123", "+1 (415) 555-0123", "4155550123", "+0123", "", "+", "++1", "+٣٣٣٣٣٣٣٣"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		p, err := auth.NormalizePhone(in)
		if err != nil {
			if auth.ErrorCode(err) != auth.CodeInvalidRequest {
				t.Fatalf("error code %s, want invalid_request", auth.ErrorCode(err))
			}
			return
		}
		if len(p) < 8 || len(p) > 16 || p[0] != '+' || p[1] < '1' || p[1] > '9' || strings.Trim(p[1:], "0123456789") != "" {
			t.Fatalf("not E.164: %q", p)
		}
		if again, err := auth.NormalizePhone(p); err != nil || again != p {
			t.Fatalf("not idempotent: %q -> %q, %v", p, again, err)
		}
		m := auth.MaskPhone(p)
		if len(m) != len(p) || m[len(m)-2:] != p[len(p)-2:] || strings.ContainsAny(m[1:len(m)-2], "0123456789") {
			t.Fatalf("mask %q of %q", m, p)
		}
	})
}
