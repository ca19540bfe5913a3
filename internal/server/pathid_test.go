package server_test

import (
	"strings"
	"testing"
)

// An {id} that twofold cannot have made is 404 on every route, on both
// stores (PostgreSQL refused a NUL byte or invalid UTF-8 with a 500).
func TestPathIDsOfAnotherFormAreNotFound(t *testing.T) {
	e := newEnv(t, withAdmin, withDevices)
	c := e.register("ids@example.com", pw)
	for _, bad := range []string{"%00", "%ff%fe", "ABCDEF0123456789ABCDEF0123456789", strings.Repeat("0", 31), strings.Repeat("0", 33)} {
		for _, route := range []struct {
			who          *client
			method, path string
		}{
			{c, "DELETE", "/api/2fa/totp/" + bad},
			{c, "DELETE", "/api/sms/" + bad},
			{c, "DELETE", "/api/webauthn/credentials/" + bad},
			{c, "DELETE", "/api/devices/" + bad},
			{e.admin(), "POST", "/api/admin/users/" + bad + "/reset-2fa"},
			{e.admin(), "POST", "/api/admin/users/" + bad + "/unlock"},
		} {
			t.Run(route.method+" "+route.path, func(t *testing.T) {
				route.who.do(route.method, route.path, nil).want(t, 404, "not_found")
			})
		}
	}
	// A well-formed id that names nothing is still looked up: 404 too.
	c.do("DELETE", "/api/webauthn/credentials/"+strings.Repeat("0", 32), nil).want(t, 404, "not_found")
}
