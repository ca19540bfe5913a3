package server

import (
	"net/http"
	"strings"
	"testing"
)

// FuzzBearer feeds arbitrary Authorization headers to the admin token
// parser: it must never panic, and a token it returns is what follows
// "Bearer " with surrounding spaces trimmed, never empty.
func FuzzBearer(f *testing.F) {
	for _, s := range []string{"", "Bearer", "Bearer ", "Bearer abc", "bearer abc", "Basic abc", "Bearer  abc ", "Bearer a b", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		r := &http.Request{Header: http.Header{"Authorization": {h}}}
		tok, ok := bearer(r)
		if !ok {
			return
		}
		if tok == "" || len(tok) > len(h) || !strings.HasSuffix(strings.TrimSpace(h), tok) {
			t.Fatalf("bearer returned a token that is not the end of the header")
		}
		if scheme, _, _ := strings.Cut(h, " "); !strings.EqualFold(scheme, "Bearer") {
			t.Fatalf("bearer accepted the scheme %q", scheme)
		}
	})
}
