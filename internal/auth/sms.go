package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/twofold-auth/twofold/internal/notify"
)

// SMS codes (SPEC §3, §4). SMS is a restricted authenticator in NIST SP
// 800-63B: a phone number can be ported or its messages redirected, so
// users are told to prefer an authenticator app or a security key.
const (
	smsCodeTTL   = 5 * time.Minute
	smsCooldown  = 30 * time.Second
	smsWindow    = time.Hour
	smsPerWindow = 10

	smsPurposeLogin = "login"
	smsPurposeSetup = "setup"
)

// SMSRestrictedNotice is shown when a user adds a phone.
const SMSRestrictedNotice = "SMS is a restricted authenticator (NIST SP 800-63B): text messages can be " +
	"intercepted or redirected to another SIM. Prefer an authenticator app or a security key, and keep SMS as a fallback."

// SMSPhone is a confirmed phone for SMS codes. Phone is sealed.
type SMSPhone struct {
	ID         string
	UserID     string
	Name       string
	Phone      string
	CreatedAt  time.Time
	LastUsedAt time.Time
}

// PendingSMS is a phone being set up. Phone is sealed.
type PendingSMS struct {
	ID        string
	UserID    string
	Name      string
	Phone     string
	CreatedAt time.Time
}

// SMSCode is a code sent by SMS, bound to the session (the login attempt or
// the setup) it was sent for. Only its keyed hash is stored.
type SMSCode struct {
	SessionID string
	UserID    string
	// Purpose is "login" or "setup".
	Purpose   string
	PhoneID   string
	Hash      string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// SMSFactors stores phones, SMS codes and the per-account send count.
type SMSFactors interface {
	// PutPendingSMS stores p, replacing the user's previous pending phone.
	PutPendingSMS(ctx context.Context, p PendingSMS) error
	// PendingSMS returns the user's pending phone. ErrNotFound.
	PendingSMS(ctx context.Context, userID string) (PendingSMS, error)
	// ConfirmSMS atomically deletes the pending phone p.ID of p.UserID,
	// deletes the user's other phones (a user has one phone; a new one
	// replaces it) with their codes, and inserts p; when backupHashes is not
	// nil it also replaces the user's backup codes. ErrNotFound when that
	// pending phone is gone.
	ConfirmSMS(ctx context.Context, p SMSPhone, backupHashes []string, now time.Time) error
	// SMSPhones lists a user's phones, oldest first.
	SMSPhones(ctx context.Context, userID string) ([]SMSPhone, error)
	// DeleteSMSPhone removes phone id of userID and its codes. ErrNotFound.
	DeleteSMSPhone(ctx context.Context, userID, id string) error
	// TouchSMSPhone records a successful use.
	TouchSMSPhone(ctx context.Context, id string, at time.Time) error
	// PutSMSCode stores c as the one code of its session, voiding the
	// session's previous code.
	PutSMSCode(ctx context.Context, c SMSCode) error
	// UseSMSCode deletes the session's code if it has this purpose and hash
	// and expires after now, returning its phone id: one statement, so a
	// code succeeds once. ErrNotFound when there is no such code. When
	// rotate is not nil the session is rotated (as RotateSession) in the
	// same write, all or nothing: ErrSessionRotated, with nothing changed,
	// when the code is there but the session was rotated (a removed session
	// takes its codes with it: ErrNotFound).
	UseSMSCode(ctx context.Context, sessionID, purpose, hash string, now time.Time, rotate *SessionRotation) (string, error)
	// ClaimSMSSend records a code sent to userID at `at`, unless a send is
	// recorded at or after cooldownStart or max sends at or after
	// windowStart (then false). Sends before windowStart are forgotten.
	// Atomic across instances.
	ClaimSMSSend(ctx context.Context, userID string, at, cooldownStart, windowStart time.Time, max int) (bool, error)
	// SMSSendsSince lists the times of userID's sends at or after since, oldest first.
	SMSSendsSince(ctx context.Context, userID string, since time.Time) ([]time.Time, error)
}

// NormalizePhone checks that phone is an E.164 number ("+" then the
// country code and number, 7 to 15 digits, not starting with 0) and
// returns it without the spaces, dashes, dots and parentheses people type
// in it. Code: invalid_request.
func NormalizePhone(phone string) (string, error) {
	bad := Errorf(CodeInvalidRequest, "phone must be in international E.164 form: + then country code and number, e.g. +14155550123")
	if len(phone) > 64 {
		return "", bad
	}
	p := strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '.', '(', ')':
			return -1
		}
		return r
	}, strings.TrimSpace(phone))
	if len(p) < 8 || len(p) > 16 || p[0] != '+' || p[1] == '0' {
		return "", bad
	}
	for _, r := range p[1:] {
		if r < '0' || r > '9' {
			return "", bad
		}
	}
	return p, nil
}

// MaskPhone hides every digit of an E.164 number but the last two.
func MaskPhone(p string) string {
	if len(p) < 3 {
		return strings.Repeat("*", len(p))
	}
	return "+" + strings.Repeat("*", len(p)-3) + p[len(p)-2:]
}

// SetupSMS starts adding a phone: it validates the number, keeps it sealed
// and pending, and sends a code to it. It returns the masked number.
// Codes: reauthentication_required, invalid_request, rate_limited,
// delivery_failed.
func (s *Service) SetupSMS(ctx context.Context, c Client, sess Session, u User, phone, name string) (string, error) {
	if err := s.requireRecent(sess); err != nil {
		return "", err
	}
	phone, err := NormalizePhone(phone)
	if err != nil {
		return "", err
	}
	if name, err = methodName(name, "Phone"); err != nil {
		return "", err
	}
	if now := s.now(); u.LockedUntil.After(now) {
		// Confirming would be refused anyway: send nothing.
		return "", s.lockedError(u.LockedUntil, now)
	}
	if err := s.limit(s.authLimit, IPRateKey(c.IP)); err != nil {
		return "", err
	}
	if err := s.claimSMSSend(ctx, u.ID); err != nil {
		return "", err
	}
	now := s.now()
	p := PendingSMS{ID: s.newID(now), UserID: u.ID, Name: name, CreatedAt: now}
	if p.Phone, err = s.keys.seal([]byte(phone), "sms:"+p.ID); err != nil {
		return "", s.internal(ctx, "seal phone", err)
	}
	if err := s.store.PutPendingSMS(ctx, p); err != nil {
		return "", s.internal(ctx, "store pending phone", err)
	}
	if err := s.sendSMSCode(ctx, sess, u, smsPurposeSetup, p.ID, phone, "to confirm your phone"); err != nil {
		return "", err
	}
	return MaskPhone(phone), nil
}

// ConfirmSMS checks the code sent by SetupSMS and enables the phone,
// replacing the user's previous phone (a phone change is a new enrollment).
// Wrong codes count toward lockout like any second-factor attempt.
// Codes: invalid_request (no setup in progress), invalid_code (400), locked, rate_limited.
func (s *Service) ConfirmSMS(ctx context.Context, c Client, sess Session, u User, code string) (Enabled, error) {
	badCode := &Error{Code: CodeInvalidCode, Message: "that code is not valid: enter the code we sent to your phone", Setup: true}
	p, err := s.store.PendingSMS(ctx, u.ID)
	if errors.Is(err, ErrNotFound) {
		return Enabled{}, Errorf(CodeInvalidRequest, "no phone is being set up: add the phone number again")
	}
	if err != nil {
		return Enabled{}, s.internal(ctx, "find pending phone", err)
	}
	if strings.TrimSpace(code) == "" || len(code) > 64 {
		return Enabled{}, Errorf(CodeInvalidRequest, "code is required")
	}
	err = s.attempt(ctx, c, u, MethodSMS, "sms_setup", func(ctx context.Context) (bool, error) {
		phoneID, ok, err := s.useSMSCode(ctx, sess, smsPurposeSetup, code, nil)
		return ok && phoneID == p.ID, err
	})
	if ErrorCode(err) == CodeInvalidCode {
		return Enabled{}, badCode
	}
	if err != nil {
		return Enabled{}, err
	}
	ctx = context.WithoutCancel(ctx)
	first, err := s.isFirstFactor(ctx, u.ID)
	if err != nil {
		return Enabled{}, err
	}
	old, err := s.store.SMSPhones(ctx, u.ID)
	if err != nil {
		return Enabled{}, s.internal(ctx, "list phones", err)
	}
	var codes, hashes []string
	if first {
		if codes, hashes, err = s.newBackupCodes(ctx); err != nil {
			return Enabled{}, err
		}
	}
	now := s.now()
	ph := SMSPhone{ID: p.ID, UserID: u.ID, Name: p.Name, Phone: p.Phone, CreatedAt: now}
	if err := s.store.ConfirmSMS(ctx, ph, hashes, now); err != nil {
		if errors.Is(err, ErrNotFound) {
			return Enabled{}, badCode // confirmed or replaced by a concurrent request
		}
		return Enabled{}, s.internal(ctx, "confirm phone", err)
	}
	masked, err := s.maskedPhone(ph)
	if err != nil {
		return Enabled{}, s.internal(ctx, "open phone", err)
	}
	for _, o := range old {
		s.record(ctx, c, EventSMSRemoved, u.ID, map[string]any{"id": o.ID, "reason": "replaced"})
	}
	s.record(ctx, c, EventSMSEnabled, u.ID, map[string]any{"id": ph.ID, "name": ph.Name, "phone": masked})
	if first {
		s.record(ctx, c, EventBackupCodesGenerated, u.ID, map[string]any{"count": len(codes)})
	}
	s.RaiseAlert(ctx, u, c, Alert{
		Type: EventSMSEnabled, Subject: "New phone added for sign-in codes",
		What:   "A phone (" + masked + ") was added as a second factor for SMS sign-in codes",
		Detail: map[string]any{"id": ph.ID, "phone": masked},
	})
	return Enabled{Method: Method{ID: ph.ID, Name: ph.Name, CreatedAt: now, Phone: masked}, BackupCodes: codes}, nil
}

// SendLoginCode sends a fresh SMS code for a pending login (method must be
// "sms"). The code is bound to this login attempt; it voids the attempt's
// previous code but leaves the failure count as it is.
// Codes: invalid_request, locked, rate_limited, delivery_failed.
func (s *Service) SendLoginCode(ctx context.Context, c Client, sess Session, u User, method string) error {
	if method != MethodSMS {
		return Errorf(CodeInvalidRequest, `method must be "sms": only SMS codes are sent`)
	}
	now := s.now()
	if u.LockedUntil.After(now) {
		return s.lockedError(u.LockedUntil, now)
	}
	phones, err := s.store.SMSPhones(ctx, u.ID)
	if err != nil {
		return s.internal(ctx, "list phones", err)
	}
	if len(phones) == 0 {
		return Errorf(CodeInvalidRequest, "sms is not a second factor of this account")
	}
	if err := s.limit(s.authLimit, IPRateKey(c.IP)); err != nil {
		return err
	}
	if err := s.claimSMSSend(ctx, u.ID); err != nil {
		return err
	}
	ph := phones[len(phones)-1]
	phone, err := s.keys.open(ph.Phone, "sms:"+ph.ID)
	if err != nil {
		return s.internal(ctx, "open phone", err)
	}
	return s.sendSMSCode(ctx, sess, u, smsPurposeLogin, ph.ID, string(phone), "to sign in")
}

// RemoveSMS removes a phone. Removing the last second factor turns
// two-factor sign-in off. Codes: reauthentication_required, not_found.
func (s *Service) RemoveSMS(ctx context.Context, c Client, sess Session, u User, id string) error {
	return s.removeFactor(ctx, c, sess, u, id, "phone", EventSMSRemoved, s.store.DeleteSMSPhone)
}

// claimSMSSend applies the per-account send limit: one send per
// smsCooldown and smsPerWindow per smsWindow, counted in the database so
// that it holds across instances. Code: rate_limited.
func (s *Service) claimSMSSend(ctx context.Context, userID string) error {
	now := s.now()
	ok, err := s.store.ClaimSMSSend(ctx, userID, now, now.Add(-smsCooldown+time.Microsecond), now.Add(-smsWindow+time.Microsecond), smsPerWindow)
	if err != nil {
		return s.internal(ctx, "count sms sends", err)
	}
	if ok {
		return nil
	}
	wait := smsCooldown
	if sends, err := s.store.SMSSendsSince(ctx, userID, now.Add(-smsWindow+time.Microsecond)); err == nil && len(sends) > 0 {
		wait = sends[len(sends)-1].Add(smsCooldown).Sub(now)
		if len(sends) >= smsPerWindow {
			wait = max(wait, sends[len(sends)-smsPerWindow].Add(smsWindow).Sub(now))
		}
	}
	return &Error{Code: CodeRateLimited, Message: "a code was sent recently: wait before asking for another", RetryAfter: max(wait, time.Second)}
}

// sendSMSCode makes a new code bound to sess, stores its hash (voiding the
// session's previous code) and sends it to phone.
func (s *Service) sendSMSCode(ctx context.Context, sess Session, u User, purpose, phoneID, phone, what string) error {
	code, err := newSMSCode(s.rand)
	if err != nil {
		return s.internal(ctx, "generate sms code", err)
	}
	hash, err := s.smsCodeHash(ctx, sess.ID, purpose, code)
	if err != nil {
		return err
	}
	now := s.now()
	expires := now.Add(smsCodeTTL)
	if err := s.store.PutSMSCode(ctx, SMSCode{SessionID: sess.ID, UserID: u.ID, Purpose: purpose, PhoneID: phoneID, Hash: hash, CreatedAt: now, ExpiresAt: expires}); err != nil {
		return s.internal(ctx, "store sms code", err)
	}
	body := "Your " + s.issuer + " code " + what + " is " + code + ". It expires in 5 minutes. Never share it: " + s.issuer + " will never ask you for it."
	return s.deliverNow(ctx, notify.Message{Channel: notify.ChannelSMS, To: phone, Body: body}, expires)
}

// checkSMS uses up the SMS code sent for this login attempt.
func (s *Service) checkSMS(ctx context.Context, sess Session, code string, rotate *SessionRotation) (bool, error) {
	phoneID, ok, err := s.useSMSCode(ctx, sess, smsPurposeLogin, code, rotate)
	if err != nil || !ok {
		return false, err
	}
	if err := s.store.TouchSMSPhone(ctx, phoneID, s.now()); err != nil {
		s.log.WarnContext(ctx, "touch phone", "err", err)
	}
	return true, nil
}

// useSMSCode uses up the session's code for purpose, with the session's
// rotation when rotate is not nil (ErrSessionRotated when that lost).
func (s *Service) useSMSCode(ctx context.Context, sess Session, purpose, code string, rotate *SessionRotation) (string, bool, error) {
	code = cleanCode(code)
	if len(code) != 6 || strings.Trim(code, "0123456789") != "" {
		return "", false, nil
	}
	hash, err := s.smsCodeHash(ctx, sess.ID, purpose, code)
	if err != nil {
		return "", false, err
	}
	phoneID, err := s.store.UseSMSCode(ctx, sess.ID, purpose, hash, s.now(), rotate)
	if errors.Is(err, ErrNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return phoneID, true, nil
}

// smsCodeHash is the stored form of an SMS code: HMAC-SHA256 under the
// server's sealed hash key, bound to the session and purpose, so a stolen
// database cannot test the million possible codes offline.
func (s *Service) smsCodeHash(ctx context.Context, sessionID, purpose, code string) (string, error) {
	key, err := s.backupKey(ctx)
	if err != nil {
		return "", s.internal(ctx, "code hash key", err)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte("twofold sms code v1\x00" + sessionID + "\x00" + purpose + "\x00" + code))
	return hex.EncodeToString(m.Sum(nil)), nil
}

// newSMSCode returns 6 uniformly random decimal digits.
func newSMSCode(r io.Reader) (string, error) {
	const limit = 4_294_000_000 // the largest multiple of 10^6 below 2^32
	var b [4]byte
	for {
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return "", err
		}
		if v := binary.BigEndian.Uint32(b[:]); v < limit {
			n := v % 1_000_000
			out := []byte("000000")
			for i := 5; i >= 0; i-- {
				out[i] = byte('0' + n%10)
				n /= 10
			}
			return string(out), nil
		}
	}
}

// maskedPhone opens a phone's number and masks it.
func (s *Service) maskedPhone(p SMSPhone) (string, error) {
	plain, err := s.keys.open(p.Phone, "sms:"+p.ID)
	if err != nil {
		return "", err
	}
	return MaskPhone(string(plain)), nil
}

// smsMethods lists a user's phones as methods, masked.
func (s *Service) smsMethods(ctx context.Context, userID string) ([]Method, error) {
	phones, err := s.store.SMSPhones(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := []Method{}
	for _, p := range phones {
		masked, err := s.maskedPhone(p)
		if err != nil {
			return nil, err
		}
		out = append(out, Method{ID: p.ID, Name: p.Name, CreatedAt: p.CreatedAt, LastUsedAt: p.LastUsedAt, Phone: masked})
	}
	return out, nil
}
