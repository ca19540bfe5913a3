package auth

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/mail"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/twofold-auth/twofold/internal/notify"
	"github.com/twofold-auth/twofold/internal/ratelimit"
	"github.com/twofold-auth/twofold/internal/seal"
)

// Session lifetimes (SPEC §2) and the recent-authentication window (SPEC §3).
const (
	SessionIdleTimeout     = 30 * time.Minute
	SessionAbsoluteTimeout = 24 * time.Hour
	RecentAuthWindow       = 10 * time.Minute
	// touchInterval bounds how often a session's last-seen time is written:
	// the idle timeout is enforced to within this much, and a busy client does
	// not cost a database write per request.
	touchInterval = time.Minute
)

// Password length bounds, in characters.
const (
	MinPasswordLen = 8
	MaxPasswordLen = 1024
)

// loginAccountRate bounds wrong passwords per email address (known or not,
// so the answer says nothing about whether the account exists). Every attempt
// takes a token before the password is hashed, so parallel guesses cannot
// slip past; a correct password gives its token back, so only failures count.
// While none is left every attempt, right or wrong, is refused: the limit is
// not an oracle.
var loginAccountRate = ratelimit.Rate{N: 10, Per: 15 * time.Minute}

// PasswordHasher hashes and checks passwords (package password provides one).
type PasswordHasher interface {
	Hash(ctx context.Context, password string) (string, error)
	Verify(ctx context.Context, password, phc string) (ok, needsRehash bool, err error)
	CompareDummy(ctx context.Context, password string) error
}

// Options configure a Service. The zero value of every field but Hasher is usable.
type Options struct {
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Rand is the source of tokens and ids; crypto/rand when nil.
	Rand io.Reader
	// Hasher hashes passwords. Required.
	Hasher PasswordHasher
	// Logger receives internal errors; slog.Default() when nil.
	Logger *slog.Logger
	// RegistrationClosed refuses self-service sign-up.
	RegistrationClosed bool
	// AuthRate limits logins, registrations and code sends per IP; zero = off.
	AuthRate ratelimit.Rate
	// OnEvent, when set, sees every event recorded (metrics).
	OnEvent func(Event)

	// Keys seal secrets at rest. Required.
	Keys *seal.Ring
	// ReloadKeys, when set, is called once when a sealed value names a key
	// the ring lacks (another process rotated the key file).
	ReloadKeys func() (*seal.Ring, error)
	// Notifier is the channels that messages are finally handed to
	// (notify.Channels: outbox, SMTP, Twilio, webhook). Alerts reach it
	// through the database's delivery queue and RunDeliveries; SMS codes are
	// sent at once. Messages are dropped when nil.
	Notifier notify.Sender
	// Webhook also sends every alert to the "webhook" channel.
	Webhook bool
	// SendTimeout bounds one attempt to send a message; 10 s when zero.
	SendTimeout time.Duration
	// OnDelivery, when set, sees the outcome of every send attempt:
	// "sent", "retry" or "failed" (metrics).
	OnDelivery func(channel, outcome string)
	// After is the timer of the delivery worker; time.After when nil.
	After func(time.Duration) <-chan time.Time
	// PublicURL is where users manage their account, for alert texts.
	PublicURL string
	// Issuer names the service in authenticator apps; "twofold" when empty.
	Issuer string
	// TOTPSkew is how many time steps either side of now are accepted.
	TOTPSkew int
	// LockoutThreshold is the number of consecutive second-factor failures
	// that locks an account; 5 when zero.
	LockoutThreshold int
	// LockoutDuration is the first lockout's length; 15 minutes when zero.
	LockoutDuration time.Duration
	// VerifyRate limits second-factor attempts per IP; zero = off.
	VerifyRate ratelimit.Rate
}

// Service implements twofold's product rules over a Store.
type Service struct {
	store      Store
	now        func() time.Time
	rand       io.Reader
	hasher     PasswordHasher
	log        *slog.Logger
	regClosed  bool
	authLimit  *ratelimit.Limiter
	loginLimit *ratelimit.Limiter
	onEvent    func(Event)

	keys        *keyring
	notifier    notify.Sender
	publicURL   string
	issuer      string
	skew        int
	threshold   int
	lockout     time.Duration
	verifyLimit *ratelimit.Limiter
	// wa is the WebAuthn relying party; nil when the public URL cannot be
	// one (an IP address).
	wa *webauthn.WebAuthn

	webhook     bool
	sendTimeout time.Duration
	after       func(time.Duration) <-chan time.Time
	onDelivery  func(channel, outcome string)
	wake        chan struct{}
	lastPurge   atomic.Value // time.Time of the last PurgeDeliveries
	// owner names this instance in delivery leases.
	owner string

	keyMu   sync.Mutex
	hashKey []byte // backup-code hash key, loaded once

	idMu  sync.Mutex
	idMS  uint64
	idSeq uint16
}

// New returns a Service over store.
func New(store Store, o Options) (*Service, error) {
	if o.Hasher == nil {
		return nil, errors.New("new auth service: a password hasher is required")
	}
	if o.Keys == nil {
		return nil, errors.New("new auth service: encryption keys are required")
	}
	s := &Service{
		store:      store,
		now:        o.Now,
		rand:       o.Rand,
		hasher:     o.Hasher,
		log:        o.Logger,
		regClosed:  o.RegistrationClosed,
		authLimit:  ratelimit.New(o.AuthRate, 100_000),
		loginLimit: ratelimit.New(loginAccountRate, 100_000),
		onEvent:    o.OnEvent,

		keys:        newKeyring(o.Keys, o.ReloadKeys),
		notifier:    o.Notifier,
		publicURL:   o.PublicURL,
		issuer:      cmp.Or(o.Issuer, "twofold"),
		skew:        o.TOTPSkew,
		threshold:   cmp.Or(o.LockoutThreshold, 5),
		lockout:     cmp.Or(o.LockoutDuration, 15*time.Minute),
		verifyLimit: ratelimit.New(o.VerifyRate, 100_000),

		webhook:     o.Webhook,
		sendTimeout: cmp.Or(o.SendTimeout, defaultSendTimeout),
		after:       o.After,
		onDelivery:  o.OnDelivery,
		wake:        make(chan struct{}, 1),
	}
	if s.after == nil {
		s.after = time.After
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.owner = s.newID(s.now())
	s.lastPurge.Store(time.Time{})
	wa, err := newRelyingParty(cmp.Or(o.PublicURL, "http://localhost:8080"), s.issuer)
	if err != nil {
		s.log.Warn("security keys and passkeys are off", "err", err)
	}
	s.wa = wa
	return s, nil
}

// Now returns the service's current time.
func (s *Service) Now() time.Time { return s.now() }

// Registered is the outcome of Register and of a completed login: the user and
// the new session token to hand to the client.
type Registered struct {
	User  User
	Token string
}

// Register creates an account and an authenticated session.
// Codes: invalid_request, email_taken, registration_closed, rate_limited.
func (s *Service) Register(ctx context.Context, c Client, email, password string) (Registered, error) {
	if s.regClosed {
		return Registered{}, Errorf(CodeRegistrationClosed, "sign-up is closed: ask an administrator for an account")
	}
	if err := s.limit(s.authLimit, IPRateKey(c.IP)); err != nil {
		return Registered{}, err
	}
	u, err := s.CreateUser(ctx, c, email, password)
	if err != nil {
		return Registered{}, err
	}
	tok, err := s.newSession(ctx, c, u.ID, StateAuthenticated)
	if err != nil {
		return Registered{}, err
	}
	s.signedIn(ctx, c, u)
	return Registered{User: u, Token: tok}, nil
}

// CreateUser validates and stores a new account and records user.registered.
// Codes: invalid_request, email_taken.
func (s *Service) CreateUser(ctx context.Context, c Client, email, password string) (User, error) {
	email, err := NewEmail(email)
	if err != nil {
		return User{}, err
	}
	if err := checkPassword(password); err != nil {
		return User{}, err
	}
	hash, err := s.hasher.Hash(ctx, password)
	if err != nil {
		return User{}, s.internal(ctx, "hash password", err)
	}
	now := s.now()
	u := User{ID: s.newID(now), Email: email, PasswordHash: hash, CreatedAt: now}
	if err := s.store.CreateUser(ctx, u); err != nil {
		if errors.Is(err, ErrDuplicate) {
			return User{}, Errorf(CodeEmailTaken, "an account with that email already exists")
		}
		return User{}, s.internal(ctx, "create user", err)
	}
	s.record(ctx, c, EventUserRegistered, u.ID, nil)
	return u, nil
}

// LoginResult is the outcome of a password login.
type LoginResult struct {
	// Status is "authenticated" or "2fa_required".
	Status string
	User   User
	// Methods lists the second factors the user can use when Status is "2fa_required".
	Methods []string
	Token   string
	// Device says what to do with the browser's trusted-device cookie.
	Device DeviceCookie
}

// Login checks an email and password. Unknown email and wrong password give
// the same answer in about the same time.
// Codes: invalid_request (a field missing), invalid_credentials, rate_limited.
func (s *Service) Login(ctx context.Context, c Client, email, password string) (LoginResult, error) {
	return s.LoginWithDevice(ctx, c, email, password, "", 0)
}

// LoginWithDevice is Login for a browser that may hold a trusted-device
// token (deviceToken, "" when none): with the user's correct password, a
// valid token of their own device, trusted less than deviceTTL ago (the
// lifetime configured now), stands in for the second factor.
func (s *Service) LoginWithDevice(ctx context.Context, c Client, email, password, deviceToken string, deviceTTL time.Duration) (LoginResult, error) {
	if err := s.limit(s.authLimit, IPRateKey(c.IP)); err != nil {
		return LoginResult{}, err
	}
	if strings.TrimSpace(email) == "" || password == "" {
		return LoginResult{}, Errorf(CodeInvalidRequest, "email and password are required")
	}
	norm, nerr := NormalizeEmail(email)
	if nerr != nil || checkPassword(password) != nil {
		// Still spend a hash, so malformed input is not a faster oracle.
		_ = s.hasher.CompareDummy(ctx, password)
		s.record(ctx, c, EventLoginFailed, "", map[string]any{"reason": "malformed"})
		return LoginResult{}, errInvalidCredentials
	}
	u, err := s.store.UserByEmail(ctx, norm)
	bucket := "email:" + norm
	if err == nil {
		bucket = s.loginBucket(ctx, bucket, u, deviceToken, deviceTTL)
	}
	if lerr := s.limit(s.loginLimit, bucket); lerr != nil {
		return LoginResult{}, lerr
	}
	if errors.Is(err, ErrNotFound) {
		if err := s.hasher.CompareDummy(ctx, password); err != nil {
			return LoginResult{}, s.internal(ctx, "compare dummy hash", err)
		}
		s.record(ctx, c, EventLoginFailed, "", map[string]any{"reason": "unknown_email"})
		return LoginResult{}, errInvalidCredentials
	}
	if err != nil {
		return LoginResult{}, s.internal(ctx, "find user", err)
	}
	ok, rehash, err := s.hasher.Verify(ctx, password, u.PasswordHash)
	if err != nil {
		return LoginResult{}, s.internal(ctx, "verify password", err)
	}
	if !ok {
		s.record(ctx, c, EventLoginFailed, u.ID, map[string]any{"reason": "wrong_password"})
		return LoginResult{}, errInvalidCredentials
	}
	s.loginLimit.Refund(bucket)
	verified := u.PasswordHash
	if rehash {
		verified = s.rehash(ctx, u, password)
	}
	methods, err := s.secondFactors(ctx, u.ID)
	if err != nil {
		return LoginResult{}, err
	}
	var dev deviceUse
	if len(methods) > 0 && deviceToken != "" {
		dev = s.useTrustedDevice(ctx, c, u, deviceToken, deviceTTL)
	}
	state, status := StateAuthenticated, "authenticated"
	if len(methods) > 0 && !dev.trusted {
		state, status = StatePending, "2fa_required"
	}
	tok, sessID, err := s.createSession(ctx, c, u.ID, state, dev.id)
	if errors.Is(err, ErrNotFound) && dev.trusted {
		// The device was revoked since it was checked: ask for the second factor.
		dev = deviceUse{cookie: DeviceCookie{Clear: true}}
		state, status = StatePending, "2fa_required"
		tok, sessID, err = s.createSession(ctx, c, u.ID, state, "")
	}
	if errors.Is(err, ErrNotFound) {
		return LoginResult{}, errInvalidCredentials // the user was deleted meanwhile
	}
	if err != nil {
		return LoginResult{}, s.internal(ctx, "create session", err)
	}
	if err := s.passwordStands(ctx, u.ID, verified, password); err != nil {
		if derr := s.store.DeleteSession(context.WithoutCancel(ctx), sessID); derr != nil {
			s.log.ErrorContext(ctx, "delete the session of a superseded password", "err", derr)
			return LoginResult{}, s.internal(ctx, "delete session", derr)
		}
		if ErrorCode(err) == CodeInvalidCredentials {
			s.record(ctx, c, EventLoginFailed, u.ID, map[string]any{"reason": "password_changed"})
		}
		return LoginResult{}, err
	}
	s.record(ctx, c, EventLoginSucceeded, u.ID, map[string]any{"second_factor_required": state == StatePending})
	if dev.trusted {
		s.record(ctx, c, EventLoginTrustedDevice, u.ID, map[string]any{"device_id": dev.id})
	}
	if state == StateAuthenticated {
		s.signedIn(ctx, c, u)
	}
	return LoginResult{Status: status, User: u, Methods: methods, Token: tok, Device: dev.cookie}, nil
}

// rehash upgrades u's password hash, made with weaker parameters, and
// returns the hash now standing for password: the new one, or u's when the
// upgrade fails (logged; the login goes on). It is a compare-and-set on the
// hash that was verified: a password changed meanwhile is never overwritten
// with a hash of the old one.
func (s *Service) rehash(ctx context.Context, u User, password string) string {
	hash, err := s.hasher.Hash(ctx, password)
	if err != nil {
		s.log.WarnContext(ctx, "upgrade password hash", "user_id", u.ID, "err", err)
		return u.PasswordHash
	}
	won, err := s.store.SetPasswordHashIf(ctx, u.ID, u.PasswordHash, hash)
	if err != nil {
		s.log.WarnContext(ctx, "upgrade password hash", "user_id", u.ID, "err", err)
	}
	if !won {
		return u.PasswordHash
	}
	return hash
}

// passwordStands checks, after a login stored its session, that password
// (verified against the hash verified) is still the user's password:
// invalid_credentials when it was changed meanwhile.
//
// Why this closes the race with ChangePassword, which writes the new hash
// (W) and then deletes the user's other sessions (D): the login stores its
// session (I) and then reads the hash (R). If D sees I, I is deleted. If it
// does not, I committed after D's statement began (PostgreSQL read
// committed: a statement sees what committed before it began; SQLite runs
// one writer at a time and a WAL reader sees every commit before its read
// began), so after W committed; R begins after I committed, so it sees W's
// hash and the session is deleted here. Either way no session made with the
// old password outlives the change. A login that read the user after W
// verified the new hash and stands. The device token check needs nothing
// more: a device revoked before I makes I fail (its foreign key), one
// revoked after I deletes I with it (ON DELETE CASCADE).
func (s *Service) passwordStands(ctx context.Context, userID, verified, password string) error {
	cur, err := s.store.UserByID(ctx, userID)
	if errors.Is(err, ErrNotFound) {
		return errInvalidCredentials
	}
	if err != nil {
		return s.internal(ctx, "find user", err)
	}
	if cur.PasswordHash == verified {
		return nil
	}
	// Changed: a concurrent login's rehash, or a new password (perhaps the
	// same one). Only the password decides.
	ok, _, err := s.hasher.Verify(ctx, password, cur.PasswordHash)
	if err != nil {
		return s.internal(ctx, "verify password", err)
	}
	if !ok {
		return errInvalidCredentials
	}
	return nil
}

// secondFactors lists the second-factor methods a user can log in with.
func (s *Service) secondFactors(ctx context.Context, userID string) ([]string, error) {
	p, err := s.profile(ctx, userID)
	if err != nil {
		return nil, err
	}
	methods := []string{}
	if len(p.TOTP) > 0 {
		methods = append(methods, MethodTOTP)
	}
	if len(p.WebAuthn) > 0 {
		methods = append(methods, MethodWebAuthn)
	}
	if len(p.SMS) > 0 {
		methods = append(methods, MethodSMS)
	}
	if len(methods) > 0 && p.BackupCodesRemaining > 0 {
		methods = append(methods, MethodBackupCode)
	}
	return methods, nil
}

// Logout deletes the session behind token, if any.
func (s *Service) Logout(ctx context.Context, token string) error {
	sess, err := s.store.SessionByTokenHash(ctx, HashToken(token))
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return s.internal(ctx, "find session", err)
	}
	if err := s.store.DeleteSession(ctx, sess.ID); err != nil {
		return s.internal(ctx, "delete session", err)
	}
	return nil
}

// Authenticate returns the live session behind token and its user. Expired
// sessions are deleted. Codes: unauthenticated.
func (s *Service) Authenticate(ctx context.Context, token string) (Session, User, error) {
	if token == "" || len(token) > 128 {
		return Session{}, User{}, errUnauthenticated
	}
	sess, u, auths, err := s.store.SessionAndUser(ctx, HashToken(token))
	if errors.Is(err, ErrNotFound) {
		return Session{}, User{}, errUnauthenticated
	}
	if err != nil {
		return Session{}, User{}, s.internal(ctx, "find session", err)
	}
	now := s.now()
	if now.Sub(sess.LastSeenAt) >= SessionIdleTimeout || now.Sub(sess.CreatedAt) >= SessionAbsoluteTimeout {
		if err := s.store.DeleteSession(ctx, sess.ID); err != nil {
			s.log.WarnContext(ctx, "delete expired session", "err", err)
		}
		return Session{}, User{}, errUnauthenticated
	}
	sess.totp = auths
	if now.Sub(sess.LastSeenAt) >= touchInterval {
		if err := s.store.TouchSession(ctx, sess.ID, now); err != nil {
			return Session{}, User{}, s.internal(ctx, "touch session", err)
		}
		sess.LastSeenAt = now
	}
	return sess, u, nil
}

// RecentlyAuthenticated reports whether the session's last password or
// second-factor success is within RecentAuthWindow.
func (s *Service) RecentlyAuthenticated(sess Session) bool {
	return s.now().Sub(sess.AuthAt) <= RecentAuthWindow
}

// Events lists a user's own events, newest first (limit 1..200, default 50).
func (s *Service) Events(ctx context.Context, userID string, limit int) ([]Event, error) {
	return s.ListEvents(ctx, EventFilter{UserID: userID, Limit: limit})
}

// ListEvents lists events matching f, newest first (limit 1..200, default 50).
func (s *Service) ListEvents(ctx context.Context, f EventFilter) ([]Event, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	f.Limit = min(f.Limit, 200)
	evs, err := s.store.Events(ctx, f)
	if err != nil {
		return nil, s.internal(ctx, "list events", err)
	}
	return evs, nil
}

// Ready reports whether the database answers.
func (s *Service) Ready(ctx context.Context) error { return s.store.Ping(ctx) }

// SweepSessions deletes expired sessions (and expired WebAuthn ceremonies).
func (s *Service) SweepSessions(ctx context.Context) (int64, error) {
	now := s.now()
	if _, err := s.store.DeleteExpiredWebAuthnChallenges(ctx, now); err != nil {
		return 0, err
	}
	return s.store.DeleteExpiredSessions(ctx, now.Add(-SessionIdleTimeout), now.Add(-SessionAbsoluteTimeout))
}

// newSession stores a fresh session and returns its token.
func (s *Service) newSession(ctx context.Context, c Client, userID string, state SessionState) (string, error) {
	tok, _, err := s.createSession(ctx, c, userID, state, "")
	if err != nil {
		return "", s.internal(ctx, "create session", err)
	}
	return tok, nil
}

// createSession stores a fresh session, signed in by trusted device
// deviceID if not "", and returns its token and id. The store's error is
// returned as it is (ErrNotFound: the user or device is gone).
func (s *Service) createSession(ctx context.Context, c Client, userID string, state SessionState, deviceID string) (token, id string, err error) {
	tok, hash, err := s.newToken()
	if err != nil {
		return "", "", err
	}
	now := s.now()
	sess := Session{
		ID: s.newID(now), TokenHash: hash, UserID: userID, State: state,
		CreatedAt: now, LastSeenAt: now, AuthAt: now,
		IP: truncate(c.IP, 64), UserAgent: truncate(c.UserAgent, 512), DeviceID: deviceID,
	}
	if err := s.store.CreateSession(ctx, sess); err != nil {
		return "", "", err
	}
	return tok, sess.ID, nil
}

// rotate makes a session authenticated under a new token (no fixation),
// renewing its authentication time (see rotation). It fails with
// unauthenticated when another request rotated it first.
func (s *Service) rotate(ctx context.Context, sess Session) (string, error) {
	tok, r, err := s.rotation(ctx, sess)
	if err != nil {
		return "", err
	}
	if err := s.store.RotateSession(ctx, r.OldHash, r.Next); err != nil {
		if errors.Is(err, ErrNotFound) {
			return "", errUnauthenticated
		}
		return "", s.internal(ctx, "rotate session", err)
	}
	return tok, nil
}

// newToken returns a 256-bit random token and the hash that is stored.
func (s *Service) newToken() (token, hash string, err error) {
	var b [32]byte
	if _, err := io.ReadFull(s.rand, b[:]); err != nil {
		return "", "", err
	}
	token = base64.RawURLEncoding.EncodeToString(b[:])
	return token, HashToken(token), nil
}

// HashToken is the stored form of a random token: hex SHA-256. Tokens carry
// 256 bits, so no key or slow hash is needed.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// newID returns a 32-hex-character id that sorts by creation: 48 bits of
// milliseconds and a 16-bit sequence (strictly increasing within this
// process, as a monotonic ULID), then 64 random bits.
// IsID reports whether s has the form of the ids newID makes: 32 lowercase
// hex digits. Anything else names nothing, and is refused before it reaches
// the database (PostgreSQL text refuses NUL bytes and invalid UTF-8).
func IsID(s string) bool {
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

func (s *Service) newID(now time.Time) string {
	s.idMu.Lock()
	ms := uint64(max(now.UnixMilli(), 0))
	if ms > s.idMS {
		s.idMS, s.idSeq = ms, 0
	} else if s.idSeq++; s.idSeq == 0 {
		s.idMS++ // 65,536 ids in one millisecond: borrow the next one
	}
	ms, seq := s.idMS, s.idSeq
	s.idMu.Unlock()
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], ms<<16|uint64(seq))
	if _, err := io.ReadFull(s.rand, b[8:]); err != nil {
		// crypto/rand does not fail on supported platforms; a reader that
		// runs dry must not produce colliding ids silently.
		panic(fmt.Sprintf("read random id: %v", err))
	}
	return hex.EncodeToString(b[:])
}

// record appends an event; a failure is logged, never shown to the client.
func (s *Service) record(ctx context.Context, c Client, typ, userID string, detail map[string]any) {
	ctx = context.WithoutCancel(ctx) // a client hanging up must not erase the trail
	e := s.newEvent(c, typ, userID, detail)
	if err := s.store.AddEvent(ctx, e); err != nil {
		s.log.ErrorContext(ctx, "record event", "type", typ, "err", err)
	}
	s.recorded(e)
}

// newEvent is an event of type typ happening now.
func (s *Service) newEvent(c Client, typ, userID string, detail map[string]any) Event {
	now := s.now()
	if detail == nil {
		detail = map[string]any{}
	}
	return Event{ID: s.newID(now), Time: now, Type: typ, UserID: userID, IP: truncate(c.IP, 64), UserAgent: truncate(c.UserAgent, 512), Detail: detail}
}

// recorded tells the OnEvent hook about a stored event.
func (s *Service) recorded(e Event) {
	if s.onEvent != nil {
		s.onEvent(e)
	}
}

// limit takes a token from l for key, or returns rate_limited.
func (s *Service) limit(l *ratelimit.Limiter, key string) error {
	ok, wait := l.Allow(key, s.now())
	if ok {
		return nil
	}
	return &Error{Code: CodeRateLimited, Message: "too many attempts: wait and try again", RetryAfter: wait}
}

// internal logs err with what was being done and returns the opaque internal
// error, or unavailable when the database cannot be reached.
func (s *Service) internal(ctx context.Context, doing string, err error) error {
	if errors.Is(err, ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		// The database does not answer, or the request ran out of time
		// waiting for it or for a password-hashing slot.
		s.log.WarnContext(ctx, doing, "err", err)
		return Errorf(CodeUnavailable, "the service is temporarily unavailable")
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	s.log.ErrorContext(ctx, doing, "err", err)
	return Errorf(CodeInternal, "something went wrong on our side")
}

// loginBucket is the key a login's password attempt for u counts under:
// key ("email:<email>"), shared by everyone who types that email, or, when
// the request presents a current, unexpired token of a device u
// remembered, a bucket of that device's. Wrong passwords from strangers
// then cannot keep the owner's remembered browser from signing in, and a
// copy of the cookie still allows only the bucket's few guesses. It only
// reads; the token is checked and used as ever after the password.
func (s *Service) loginBucket(ctx context.Context, key string, u User, deviceToken string, ttl time.Duration) string {
	if deviceToken == "" || len(deviceToken) > 128 || ttl <= 0 {
		return key
	}
	d, stale, err := s.store.TrustedDeviceByToken(ctx, HashToken(deviceToken))
	if err != nil || stale || d.UserID != u.ID || !deviceExpiry(d, ttl).After(s.now()) {
		return key
	}
	return key + "|device:" + d.ID
}

// NormalizeEmail trims and lower-cases an email address and checks its form.
// Code: invalid_request.
func NormalizeEmail(email string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(email))
	bad := Errorf(CodeInvalidRequest, "email must be an address like name@example.com")
	if e == "" || len(e) > 254 || !utf8.ValidString(e) {
		return "", bad
	}
	a, err := mail.ParseAddress(e)
	if err != nil || a.Address != e || a.Name != "" {
		return "", bad
	}
	at := strings.LastIndexByte(e, '@')
	if at <= 0 || at == len(e)-1 || strings.ContainsAny(e, " \t\r\n<>\"") {
		return "", bad
	}
	return e, nil
}

// NewEmail is NormalizeEmail with the rules for an address a new account
// may have (sign-up, the admin API, `twofold user add` and import; a
// lookup takes what NormalizeEmail takes, so an account stored before
// these rules still signs in): no control characters (C1 ones are
// terminal escapes in `twofold user list`), no format characters
// (invisible, zero-width or direction-changing: look-alike addresses in
// listings and alerts), and no IP address for a domain (alerts would ask
// the mail relay to deliver to a host on the network).
func NewEmail(email string) (string, error) {
	e, err := NormalizeEmail(email)
	if err != nil {
		return "", err
	}
	domain := e[strings.LastIndexByte(e, '@')+1:]
	_, ipErr := netip.ParseAddr(domain)
	if strings.ContainsFunc(e, hiddenRune) || strings.HasPrefix(domain, "[") || ipErr == nil {
		return "", Errorf(CodeInvalidRequest, "email must be an address like name@example.com")
	}
	return e, nil
}

// hiddenRune reports a control or format character.
func hiddenRune(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Cf, r)
}

// checkPassword enforces the length rule (NIST SP 800-63B: length, no
// composition rules) and refuses U+FFFD, the replacement character: it
// stands for text lost on the way (a JSON decoder turns every unpaired
// surrogate escape into it), so two different passwords would be one.
// Code: invalid_request.
func checkPassword(p string) error {
	n := utf8.RuneCountInString(p)
	if !utf8.ValidString(p) || n < MinPasswordLen || n > MaxPasswordLen {
		return Errorf(CodeInvalidRequest, "password must be %d to %d characters", MinPasswordLen, MaxPasswordLen)
	}
	if strings.ContainsRune(p, utf8.RuneError) {
		return Errorf(CodeInvalidRequest, "password holds U+FFFD, the mark of text lost in transit (an unpaired surrogate)")
	}
	return nil
}

// truncate cuts s to at most n bytes of valid UTF-8 without NUL bytes
// (PostgreSQL text refuses both; the audit trail must not).
func truncate(s string, n int) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for !utf8.ValidString(s) && len(s) > 0 {
		s = s[:len(s)-1]
	}
	return s
}

// Profile returns a user's account with their second factors.
func (s *Service) Profile(ctx context.Context, u User) (Profile, error) {
	p, err := s.profile(ctx, u.ID)
	p.User = u
	return p, err
}

func (s *Service) profile(ctx context.Context, userID string) (Profile, error) {
	p := Profile{TOTP: []Method{}, WebAuthn: []Method{}, SMS: []Method{}}
	auths, err := s.store.TOTPAuthenticators(ctx, userID)
	if err != nil {
		return Profile{}, s.internal(ctx, "list authenticators", err)
	}
	for _, a := range auths {
		p.TOTP = append(p.TOTP, Method{ID: a.ID, Name: a.Name, CreatedAt: a.CreatedAt, LastUsedAt: a.LastUsedAt})
	}
	if p.SMS, err = s.smsMethods(ctx, userID); err != nil {
		return Profile{}, s.internal(ctx, "list phones", err)
	}
	creds, err := s.store.WebAuthnCredentials(ctx, userID)
	if err != nil {
		return Profile{}, s.internal(ctx, "list webauthn credentials", err)
	}
	for _, c := range creds {
		p.WebAuthn = append(p.WebAuthn, Method{ID: c.ID, Name: c.Name, CreatedAt: c.CreatedAt, LastUsedAt: c.LastUsedAt})
	}
	if p.BackupCodesRemaining, err = s.store.BackupCodesRemaining(ctx, userID); err != nil {
		return Profile{}, s.internal(ctx, "count backup codes", err)
	}
	return p, nil
}
