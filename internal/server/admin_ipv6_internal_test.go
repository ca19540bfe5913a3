package server

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestAdminGuessLimitCountsAnIPv6ClientByItsPrefix: wrong admin tokens
// from many addresses of one /64 share one limit (10 a minute).
func TestAdminGuessLimitCountsAnIPv6ClientByItsPrefix(t *testing.T) {
	h := requireAdmin("the-real-admin-token-0123456789abcdef")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	guess := func(remote string) int {
		r := httptest.NewRequest("GET", "/api/admin/users", nil)
		r.RemoteAddr = remote
		r.Header.Set("Authorization", "Bearer wrong-guess")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	limited := 0
	for i := range 20 {
		if guess(fmt.Sprintf("[2001:db8:1:2::%x]:4000", i+1)) == http.StatusTooManyRequests {
			limited++
		}
	}
	if limited != 10 {
		t.Errorf("20 wrong admin tokens from 20 addresses of one /64: %d refused with 429, want 10", limited)
	}
}
