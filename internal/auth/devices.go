package auth

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode"
)

// DeviceCookie tells the HTTP layer what to do with the browser's
// trusted-device cookie after a login.
type DeviceCookie struct {
	// Token, when set, is the device's new token, valid until ExpiresAt.
	Token     string
	ExpiresAt time.Time
	// Clear asks to drop the cookie: it names no usable device.
	Clear bool
}

// MaxTrustedDevices is how many trusted devices a user keeps: trusting one
// more forgets the oldest (and ends the sessions it signed in).
const MaxTrustedDevices = 20

// DeviceReuseGrace is how long after a rotation the token it retired is
// taken for a lost race rather than a copied cookie: a double-submitted
// login, or a response with the new cookie that never reached the browser.
const DeviceReuseGrace = 30 * time.Second

// deviceUse is the outcome of presenting a trusted-device token at login.
type deviceUse struct {
	trusted bool
	id      string
	cookie  DeviceCookie
}

// useTrustedDevice checks the trusted-device token that came with u's
// correct password; ttl is the trusted-device lifetime configured now. A
// current token of u's own device, younger than both its expiry and ttl,
// vouches for the second factor and is rotated (one conditional update: a
// token is used once, however many requests present it).
//
// A token the device had before a rotation is either a lost race or a copy.
// Within DeviceReuseGrace of the rotation it is a lost race (two logins
// from one browser, or a lost response): the login asks for the second
// factor and drops the cookie, nothing is revoked. Later, it means the
// cookie was copied: the device is revoked, every session of the user ended
// (whoever used the copy may hold one) and the user alerted.
//
// Another user's token is ignored and left alone, so it neither lets anyone
// in nor lets them revoke the device. A trusted device is accepted during a
// second-factor lockout, and leaves the failure count as it is: the lockout
// bounds guessing of codes, and a 256-bit token that only the user's browser
// holds cannot be guessed (docs/behaviour.md).
func (s *Service) useTrustedDevice(ctx context.Context, c Client, u User, token string, ttl time.Duration) deviceUse {
	if len(token) > 128 {
		return deviceUse{cookie: DeviceCookie{Clear: true}}
	}
	hash := HashToken(token)
	d, stale, err := s.store.TrustedDeviceByToken(ctx, hash)
	if errors.Is(err, ErrNotFound) {
		return deviceUse{cookie: DeviceCookie{Clear: true}}
	}
	if err != nil {
		// Fall back to asking for the second factor.
		s.log.ErrorContext(ctx, "find trusted device", "err", err)
		return deviceUse{}
	}
	if d.UserID != u.ID {
		return deviceUse{}
	}
	now := s.now()
	if stale && !d.RetiredAt.IsZero() && now.Sub(d.RetiredAt) < DeviceReuseGrace {
		// A lost race, not a theft. The cookie is dropped: this browser
		// holds a token that is already old, and presenting it again after
		// the grace period would read as a theft.
		return deviceUse{cookie: DeviceCookie{Clear: true}}
	}
	if stale {
		// Whoever used the copy may hold a session from it: end them all.
		ctx := context.WithoutCancel(ctx)
		if err := s.store.DeleteTrustedDevice(ctx, u.ID, d.ID); err != nil && !errors.Is(err, ErrNotFound) {
			s.log.ErrorContext(ctx, "revoke trusted device", "err", err)
		}
		if err := s.store.DeleteUserSessions(ctx, u.ID, ""); err != nil {
			s.log.ErrorContext(ctx, "end sessions after a copied device token", "err", err)
		}
		s.record(ctx, c, EventDeviceRevoked, u.ID, map[string]any{"id": d.ID, "name": d.Name, "reason": "old_token_reused", "sessions_ended": true})
		// The device's name can come from its User-Agent: the email does not
		// quote it (docs/behaviour.md), the webhook's detail has it.
		s.RaiseAlert(ctx, u, c, Alert{Type: EventDeviceRevoked, Subject: "A remembered device was revoked", What: "A sign-in presented an old token of one of your remembered devices, so its cookie was probably copied. " +
			"The device is no longer remembered, you were signed out everywhere, and the next sign-in asks for your second factor",
			Detail: map[string]any{"id": d.ID, "name": d.Name, "reason": "old_token_reused"}})
		return deviceUse{cookie: DeviceCookie{Clear: true}}
	}
	expires := deviceExpiry(d, ttl)
	if !expires.After(now) {
		return deviceUse{cookie: DeviceCookie{Clear: true}}
	}
	next, nextHash, err := s.newToken()
	if err != nil {
		s.log.ErrorContext(ctx, "new device token", "err", err)
		return deviceUse{}
	}
	won, err := s.store.RotateTrustedDevice(ctx, d.ID, hash, nextHash, now)
	if err != nil {
		s.log.ErrorContext(ctx, "rotate trusted device", "err", err)
		return deviceUse{}
	}
	if !won {
		// Another request used this token at the same moment: a lost race,
		// as above.
		return deviceUse{cookie: DeviceCookie{Clear: true}}
	}
	return deviceUse{trusted: true, id: d.ID, cookie: DeviceCookie{Token: next, ExpiresAt: expires}}
}

// TrustDevice remembers u's browser for ttl. Call it only right after a
// successful second factor on the session whose (new) token is
// sessionToken; the returned token goes into the browser's cookie, and a
// later password login presenting it needs no second factor.
//
// A revocation of every device (password change, 2FA disabled, admin reset)
// running at the same moment must not miss this one, so after storing it the
// device is checked again (deviceStands) and removed if the revocation
// happened. Code: unauthenticated when it did.
func (s *Service) TrustDevice(ctx context.Context, c Client, u User, sessionToken string, ttl time.Duration) (DeviceCookie, error) {
	tok, hash, err := s.newToken()
	if err != nil {
		return DeviceCookie{}, s.internal(ctx, "new device token", err)
	}
	now := s.now()
	d := TrustedDevice{
		ID: s.newID(now), UserID: u.ID, TokenHash: hash, Name: deviceName(c.UserAgent),
		CreatedAt: now, ExpiresAt: now.Add(ttl),
	}
	if err := s.store.AddTrustedDevice(ctx, d, MaxTrustedDevices); err != nil {
		return DeviceCookie{}, s.internal(ctx, "add trusted device", err)
	}
	if err := s.deviceStands(ctx, u.ID, HashToken(sessionToken)); err != nil {
		if derr := s.store.DeleteTrustedDevice(context.WithoutCancel(ctx), u.ID, d.ID); derr != nil && !errors.Is(derr, ErrNotFound) {
			return DeviceCookie{}, s.internal(ctx, "delete a device trusted during a revocation", derr)
		}
		return DeviceCookie{}, err
	}
	s.record(ctx, c, EventDeviceTrusted, u.ID, map[string]any{"id": d.ID, "name": d.Name, "expires_at": d.ExpiresAt.UTC().Format(time.RFC3339)})
	return DeviceCookie{Token: tok, ExpiresAt: d.ExpiresAt}, nil
}

// deviceStands checks, after a device was stored, that no revocation of
// every device of the user ran meanwhile: the session that earned it still
// exists and the user still has a second factor.
//
// Why every interleaving is covered. A password change ends the user's
// other sessions (D) and then deletes their devices (R); disabling 2FA and
// an administrator's reset end with DeleteSecondFactors (F), one transaction
// that deletes the factors and the devices. If the revocation's delete sees
// the new device, it is gone. If R does not see it, the insert committed
// after R began (PostgreSQL read committed; SQLite runs one writer at a
// time), so after D committed, and the session read here, which begins after
// the insert committed, finds the session gone. F and AddTrustedDevice both
// take the user's row lock first (SQLite: both are write transactions), so
// one runs wholly before the other: F before the insert means the factors
// read here, after it, are gone; the insert before F means F deletes it.
func (s *Service) deviceStands(ctx context.Context, userID, sessionHash string) error {
	sess, err := s.store.SessionByTokenHash(ctx, sessionHash)
	if errors.Is(err, ErrNotFound) || (err == nil && sess.UserID != userID) {
		return errUnauthenticated
	}
	if err != nil {
		return s.internal(ctx, "find session", err)
	}
	methods, err := s.secondFactors(ctx, userID)
	if err != nil {
		return err
	}
	if len(methods) == 0 {
		return errUnauthenticated
	}
	return nil
}

// Devices lists u's trusted devices that have not expired, oldest first,
// with ttl the trusted-device lifetime configured now (0: none applies).
func (s *Service) Devices(ctx context.Context, u User, ttl time.Duration) ([]TrustedDevice, error) {
	ds, err := s.store.TrustedDevices(ctx, u.ID)
	if err != nil {
		return nil, s.internal(ctx, "list trusted devices", err)
	}
	now := s.now()
	out := []TrustedDevice{}
	for _, d := range ds {
		if d.ExpiresAt = deviceExpiry(d, ttl); d.ExpiresAt.After(now) {
			out = append(out, d)
		}
	}
	return out, nil
}

// deviceExpiry is when d stops vouching: its stored expiry, or earlier when
// the lifetime configured now (ttl, 0: none) has been lowered since it was
// trusted.
func deviceExpiry(d TrustedDevice, ttl time.Duration) time.Time {
	if ttl > 0 && d.CreatedAt.Add(ttl).Before(d.ExpiresAt) {
		return d.CreatedAt.Add(ttl)
	}
	return d.ExpiresAt
}

// RevokeDevice forgets one of u's trusted devices. Code: not_found.
func (s *Service) RevokeDevice(ctx context.Context, c Client, u User, id string) error {
	if !IsID(id) {
		return Errorf(CodeNotFound, "no such device")
	}
	if err := s.store.DeleteTrustedDevice(ctx, u.ID, id); err != nil {
		if errors.Is(err, ErrNotFound) {
			return Errorf(CodeNotFound, "no such device")
		}
		return s.internal(ctx, "delete trusted device", err)
	}
	s.record(ctx, c, EventDeviceRevoked, u.ID, map[string]any{"id": id, "reason": "user"})
	return nil
}

// revokeDevices forgets every trusted device of u, recording why. The
// sessions the devices signed in end with them, except keepSessionID (the
// session making the change, or "").
func (s *Service) revokeDevices(ctx context.Context, c Client, u User, keepSessionID, reason string) error {
	n, err := s.store.DeleteTrustedDevices(ctx, u.ID, keepSessionID)
	if err != nil {
		return s.internal(ctx, "delete trusted devices", err)
	}
	if n > 0 {
		s.record(ctx, c, EventDeviceRevoked, u.ID, map[string]any{"count": n, "reason": reason})
	}
	return nil
}

// SweepDevices deletes expired trusted devices and returns how many.
func (s *Service) SweepDevices(ctx context.Context) (int, error) {
	return s.store.DeleteExpiredTrustedDevices(ctx, s.now())
}

// deviceName describes a browser from its User-Agent, for the device list:
// "Firefox on Linux". It never needs to be exact.
func deviceName(ua string) string {
	browser := firstMatch(ua, [][2]string{
		{"Edg/", "Edge"}, {"OPR/", "Opera"}, {"Firefox/", "Firefox"}, {"FxiOS/", "Firefox"},
		{"CriOS/", "Chrome"}, {"Chrome/", "Chrome"}, {"Safari/", "Safari"},
	})
	system := firstMatch(ua, [][2]string{
		{"Android", "Android"}, {"iPhone", "iOS"}, {"iPad", "iPadOS"}, {"CrOS", "ChromeOS"},
		{"Windows", "Windows"}, {"Mac OS X", "macOS"}, {"Linux", "Linux"},
	})
	switch {
	case browser != "" && system != "":
		return browser + " on " + system
	case browser != "":
		return browser
	case system != "":
		return "Browser on " + system
	}
	// Otherwise the product token ("curl/8.11.0"), without control characters.
	if f := strings.Fields(ua); len(f) > 0 {
		if name := truncate(strings.Map(dropControl, f[0]), 40); name != "" {
			return name
		}
	}
	return "Unknown browser"
}

func dropControl(r rune) rune {
	if unicode.IsControl(r) {
		return -1
	}
	return r
}

func firstMatch(s string, pairs [][2]string) string {
	for _, p := range pairs {
		if strings.Contains(s, p[0]) {
			return p[1]
		}
	}
	return ""
}
