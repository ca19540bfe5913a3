package server

import (
	"net/http"
	"time"

	"github.com/twofold-auth/twofold/internal/auth"
)

// DeviceCookie is the name of the trusted-device cookie ("remember this device").
const DeviceCookie = "twofold_device"

// deviceToken returns the browser's trusted-device token, or "" when it has
// none or the feature is off (TTL 0: existing cookies are ignored).
func deviceToken(r *http.Request, d Deps) string {
	if d.TrustedDeviceTTL <= 0 {
		return ""
	}
	c, err := r.Cookie(DeviceCookie)
	if err != nil {
		return ""
	}
	return c.Value
}

// setDevice applies what the service decided about the device cookie.
func setDevice(w http.ResponseWriter, d Deps, dc auth.DeviceCookie, now time.Time) {
	c := &http.Cookie{
		Name: DeviceCookie, Path: "/",
		HttpOnly: true, Secure: d.Secure, SameSite: http.SameSiteLaxMode,
	}
	switch {
	case dc.Token != "":
		c.Value, c.Expires = dc.Token, dc.ExpiresAt.UTC()
		c.MaxAge = max(1, int(dc.ExpiresAt.Sub(now)/time.Second))
	case dc.Clear:
		c.MaxAge = -1
	default:
		return
	}
	http.SetCookie(w, c)
}

// rememberDevice answers remember_device on a successful second factor, for
// any method (TOTP and backup codes here; WebAuthn and SMS call it too): it
// trusts this browser for d.TrustedDeviceTTL and sets the cookie. With the
// TTL 0 it does nothing. A failure is logged by the service and the login
// goes on without it. sessionToken is the session's token after the second
// factor. Call it before writing the response.
func rememberDevice(w http.ResponseWriter, r *http.Request, d Deps, a *auth.Service, u auth.User, sessionToken string) {
	if d.TrustedDeviceTTL <= 0 {
		return
	}
	dc, err := a.TrustDevice(r.Context(), client(r), u, sessionToken, d.TrustedDeviceTTL)
	if err != nil {
		return
	}
	setDevice(w, d, dc, a.Now())
}

// deviceJSON is an entry of GET /api/devices (SPEC §3).
type deviceJSON struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	ExpiresAt  time.Time  `json:"expires_at"`
}

func handleDevices(a *auth.Service, d Deps) authedHandler {
	return func(w http.ResponseWriter, r *http.Request, s auth.Session, u auth.User) {
		ds, err := a.Devices(r.Context(), u, d.TrustedDeviceTTL)
		if err != nil {
			writeError(w, err)
			return
		}
		out := make([]deviceJSON, 0, len(ds))
		for _, dv := range ds {
			j := deviceJSON{ID: dv.ID, Name: dv.Name, CreatedAt: dv.CreatedAt.UTC(), ExpiresAt: dv.ExpiresAt.UTC()}
			if !dv.LastUsedAt.IsZero() {
				t := dv.LastUsedAt.UTC()
				j.LastUsedAt = &t
			}
			out = append(out, j)
		}
		encode(w, http.StatusOK, map[string]any{"devices": out})
	}
}
