package auth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
	"github.com/go-webauthn/webauthn/webauthn"
)

// ChallengeTTL is how long a WebAuthn ceremony may take (SPEC §4).
const ChallengeTTL = 5 * time.Minute

// challengeLen is the size of a WebAuthn challenge in bytes (SPEC §4).
const challengeLen = 32

var (
	errNoWebAuthn = Errorf(CodeInvalidRequest,
		"security keys are not available: TWOFOLD_PUBLIC_URL must name the server by a host name, not an IP address")
	errBadAttestation = Errorf(CodeInvalidRequest,
		"the security key's answer could not be verified: start again with /api/webauthn/register/start")
	errBadResponse = Errorf(CodeInvalidRequest, "the security key's answer could not be read")
	// errKeyNotVerified is every refused WebAuthn login step: there is no
	// password in it to be wrong.
	errKeyNotVerified = Errorf(CodeInvalidCredentials, "the security key could not be verified")
	errTooManyKeys    = Errorf(CodeInvalidRequest, "an account can have at most %d security keys: remove one first", MaxWebAuthnCredentials)
)

// MaxWebAuthnCredentials is how many security keys and passkeys one account
// may have.
const MaxWebAuthnCredentials = 20

// knownTransports are the AuthenticatorTransport values of WebAuthn Level 3
// (§5.8.4). Only these are stored: a browser sends nothing else, and
// anything else would be echoed back in allowCredentials.
var knownTransports = []string{"usb", "nfc", "ble", "smart-card", "hybrid", "internal"}

// cleanTransports keeps the known transports of ts, each once, in order
// (so at most six).
func cleanTransports[T ~string](ts []T) []string {
	var out []string
	for _, t := range ts {
		if slices.Contains(knownTransports, string(t)) && !slices.Contains(out, string(t)) {
			out = append(out, string(t))
		}
	}
	return out
}

// newRelyingParty configures WebAuthn for the public URL: the RP ID is its
// host name and the only origin accepted is exactly its origin, serialized
// as a browser does (lower case, no default port), since exactOrigin
// compares strings.
func newRelyingParty(publicURL, issuer string) (*webauthn.WebAuthn, error) {
	u, err := url.Parse(publicURL)
	if err != nil || u.Hostname() == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("public url %q is not an http(s) URL", publicURL)
	}
	host := strings.ToLower(u.Host)
	if p := u.Port(); (u.Scheme == "http" && p == "80") || (u.Scheme == "https" && p == "443") {
		host = strings.ToLower(u.Hostname())
	}
	timeouts := webauthn.TimeoutConfig{Timeout: ChallengeTTL, TimeoutUVD: ChallengeTTL}
	return webauthn.New(&webauthn.Config{
		RPID:                  strings.ToLower(u.Hostname()),
		RPDisplayName:         issuer,
		RPOrigins:             []string{u.Scheme + "://" + host},
		AttestationPreference: protocol.PreferNoAttestation,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey:      protocol.ResidentKeyRequirementPreferred,
			UserVerification: protocol.VerificationPreferred,
		},
		Timeouts: webauthn.TimeoutsConfig{Login: timeouts, Registration: timeouts},
	})
}

// waUser is a user as package webauthn sees them. The user handle is the
// user's id: random and free of personal data, as WebAuthn asks.
type waUser struct {
	u     User
	creds []webauthn.Credential
}

func (w waUser) WebAuthnID() []byte                         { return []byte(w.u.ID) }
func (w waUser) WebAuthnName() string                       { return w.u.Email }
func (w waUser) WebAuthnDisplayName() string                { return w.u.Email }
func (w waUser) WebAuthnCredentials() []webauthn.Credential { return w.creds }

// toLibrary converts stored credentials for package webauthn, skipping any
// that cannot be decoded (they could never verify anyway).
func toLibrary(cs []WebAuthnCredential) []webauthn.Credential {
	out := make([]webauthn.Credential, 0, len(cs))
	for _, c := range cs {
		id, err1 := base64.RawURLEncoding.DecodeString(c.CredentialID)
		pk, err2 := base64.RawURLEncoding.DecodeString(c.PublicKey)
		aaguid, _ := hex.DecodeString(c.AAGUID)
		if err1 != nil || err2 != nil {
			continue
		}
		wc := webauthn.Credential{
			ID: id, PublicKey: pk, AttestationFormat: c.AttestationFormat,
			Flags: webauthn.CredentialFlags{
				UserPresent: true, UserVerified: c.UserVerified, BackupEligible: c.BackupEligible, BackupState: c.BackupState,
			},
			Authenticator: webauthn.Authenticator{AAGUID: aaguid, SignCount: c.SignCount},
		}
		for _, t := range cleanTransports(c.Transports) {
			wc.Transport = append(wc.Transport, protocol.AuthenticatorTransport(t))
		}
		out = append(out, wc)
	}
	return out
}

// newChallenge returns 32 random bytes.
func (s *Service) newChallenge() ([]byte, error) {
	b := make([]byte, challengeLen)
	_, err := io.ReadFull(s.rand, b)
	return b, err
}

// putChallenge stores an open ceremony that expires ChallengeTTL from now,
// sweeping expired ones first so abandoned ceremonies do not pile up.
func (s *Service) putChallenge(ctx context.Context, owner, kind string, challenge []byte, userID, name string) error {
	now := s.now()
	if _, err := s.store.DeleteExpiredWebAuthnChallenges(ctx, now); err != nil {
		return s.internal(ctx, "delete expired webauthn challenges", err)
	}
	c := WebAuthnChallenge{
		Owner: owner, Kind: kind, Challenge: base64.RawURLEncoding.EncodeToString(challenge),
		UserID: userID, Name: name, ExpiresAt: now.Add(ChallengeTTL),
	}
	if err := s.store.PutWebAuthnChallenge(ctx, c); err != nil {
		return s.internal(ctx, "store webauthn challenge", err)
	}
	return nil
}

// isChallenge reports whether s has the form of a challenge twofold issues
// (base64url of 32 bytes), so that nothing else (a NUL byte, say, which
// PostgreSQL text refuses) reaches the database.
func isChallenge(s string) bool {
	b, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil && len(b) == challengeLen
}

func sessionOwner(sess Session) string { return "session:" + sess.ID }

// StartWebAuthnRegistration begins adding a security key or passkey: the
// creation options for navigator.credentials.create, listing the user's
// credentials in excludeCredentials. A new start replaces an open one.
// Codes: reauthentication_required, invalid_request, rate_limited.
func (s *Service) StartWebAuthnRegistration(ctx context.Context, c Client, sess Session, u User, name string) (*protocol.PublicKeyCredentialCreationOptions, error) {
	if s.wa == nil {
		return nil, errNoWebAuthn
	}
	// A stolen session must not bind its own key to the account.
	if err := s.requireRecent(sess); err != nil {
		return nil, err
	}
	name, err := methodName(name, "Security key")
	if err != nil {
		return nil, err
	}
	// Every start stores a row: bound per IP like the other starts.
	if err := s.limit(s.authLimit, IPRateKey(c.IP)); err != nil {
		return nil, err
	}
	stored, err := s.store.WebAuthnCredentials(ctx, u.ID)
	if err != nil {
		return nil, s.internal(ctx, "list webauthn credentials", err)
	}
	if len(stored) >= MaxWebAuthnCredentials {
		return nil, errTooManyKeys
	}
	user := waUser{u: u, creds: toLibrary(stored)}
	exclude := make([]protocol.CredentialDescriptor, 0, len(user.creds))
	for _, c := range user.creds {
		exclude = append(exclude, c.Descriptor())
	}
	challenge, err := s.newChallenge()
	if err != nil {
		return nil, s.internal(ctx, "new webauthn challenge", err)
	}
	creation, _, err := s.wa.BeginRegistration(user,
		webauthn.WithExclusions(exclude),
		func(o *protocol.PublicKeyCredentialCreationOptions) error { o.Challenge = challenge; return nil })
	if err != nil {
		return nil, s.internal(ctx, "begin webauthn registration", err)
	}
	if err := s.putChallenge(ctx, sessionOwner(sess), ChallengeRegister, challenge, u.ID, name); err != nil {
		return nil, err
	}
	return &creation.Response, nil
}

// FinishWebAuthnRegistration checks the browser's RegistrationResponseJSON
// against the open ceremony of this session (taking its challenge, so it
// is used once) and stores the new credential. The first second factor
// comes with backup codes. Codes: invalid_request.
func (s *Service) FinishWebAuthnRegistration(ctx context.Context, c Client, sess Session, u User, body []byte) (Enabled, error) {
	if s.wa == nil {
		return Enabled{}, errNoWebAuthn
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(body)
	if err != nil {
		return Enabled{}, errBadResponse
	}
	now := s.now()
	if !isChallenge(parsed.Response.CollectedClientData.Challenge) {
		return Enabled{}, errBadAttestation
	}
	ch, err := s.store.TakeWebAuthnChallenge(ctx, sessionOwner(sess), ChallengeRegister, parsed.Response.CollectedClientData.Challenge, now)
	if errors.Is(err, ErrNotFound) {
		return Enabled{}, errBadAttestation // unknown, used or expired challenge
	}
	if err != nil {
		return Enabled{}, s.internal(ctx, "take webauthn challenge", err)
	}
	if ch.UserID != u.ID {
		return Enabled{}, errBadAttestation
	}
	stored, err := s.store.WebAuthnCredentials(ctx, u.ID)
	if err != nil {
		return Enabled{}, s.internal(ctx, "list webauthn credentials", err)
	}
	user := waUser{u: u, creds: toLibrary(stored)}
	data := webauthn.SessionData{
		Challenge: ch.Challenge, RelyingPartyID: s.wa.Config.RPID, UserID: user.WebAuthnID(),
		UserVerification: protocol.VerificationPreferred, CredParams: webauthn.CredentialParametersDefault(),
	}
	if err := s.exactOrigin(parsed.Response.CollectedClientData); err != nil {
		s.log.InfoContext(ctx, "webauthn registration refused", "user_id", u.ID, "err", err.Error())
		return Enabled{}, errBadAttestation
	}
	cred, err := s.wa.CreateCredential(user, data, parsed)
	if err != nil {
		s.log.InfoContext(ctx, "webauthn registration refused", "user_id", u.ID, "err", describe(err))
		return Enabled{}, errBadAttestation
	}
	first, err := s.isFirstFactor(ctx, u.ID)
	if err != nil {
		return Enabled{}, err
	}
	var codes, hashes []string
	if first {
		if codes, hashes, err = s.newBackupCodes(ctx); err != nil {
			return Enabled{}, err
		}
	}
	wc := WebAuthnCredential{
		ID: s.newID(now), UserID: u.ID, CredentialID: base64.RawURLEncoding.EncodeToString(cred.ID), Name: ch.Name,
		PublicKey: base64.RawURLEncoding.EncodeToString(cred.PublicKey), SignCount: cred.Authenticator.SignCount,
		AAGUID: hex.EncodeToString(cred.Authenticator.AAGUID), AttestationFormat: cred.AttestationFormat,
		UserVerified: cred.Flags.UserVerified, BackupEligible: cred.Flags.BackupEligible, BackupState: cred.Flags.BackupState,
		Transports: cleanTransports(cred.Transport), CreatedAt: now,
	}
	if err := s.store.AddWebAuthnCredential(ctx, wc, hashes, now, MaxWebAuthnCredentials); err != nil {
		if errors.Is(err, ErrDuplicate) {
			return Enabled{}, Errorf(CodeInvalidRequest, "this security key is registered already")
		}
		if errors.Is(err, ErrLimit) {
			return Enabled{}, errTooManyKeys
		}
		return Enabled{}, s.internal(ctx, "add webauthn credential", err)
	}
	s.record(ctx, c, EventWebAuthnRegistered, u.ID, map[string]any{
		"id": wc.ID, "name": wc.Name, "aaguid": wc.AAGUID, "user_verified": wc.UserVerified, "backup_eligible": wc.BackupEligible,
	})
	if first {
		s.record(ctx, c, EventBackupCodesGenerated, u.ID, map[string]any{"count": len(codes)})
	}
	s.RaiseAlert(ctx, u, c, Alert{
		Type:    EventWebAuthnRegistered,
		Subject: "New security key added",
		What:    "A security key or passkey was added as a second factor to your account",
		Detail:  map[string]any{"id": wc.ID, "name": wc.Name},
	})
	return Enabled{Method: Method{ID: wc.ID, Name: wc.Name, CreatedAt: wc.CreatedAt}, BackupCodes: codes}, nil
}

// StartWebAuthnLogin begins the second step of a login for a pending
// session: request options listing the user's credentials.
// Codes: invalid_request (no security key on this account).
func (s *Service) StartWebAuthnLogin(ctx context.Context, sess Session, u User) (*protocol.PublicKeyCredentialRequestOptions, error) {
	if s.wa == nil {
		return nil, errNoWebAuthn
	}
	stored, err := s.store.WebAuthnCredentials(ctx, u.ID)
	if err != nil {
		return nil, s.internal(ctx, "list webauthn credentials", err)
	}
	if len(stored) == 0 {
		return nil, Errorf(CodeInvalidRequest, "this account has no security key")
	}
	challenge, err := s.newChallenge()
	if err != nil {
		return nil, s.internal(ctx, "new webauthn challenge", err)
	}
	assertion, _, err := s.wa.BeginLogin(waUser{u: u, creds: toLibrary(stored)}, webauthn.WithChallenge(challenge))
	if err != nil {
		return nil, s.internal(ctx, "begin webauthn login", err)
	}
	if err := s.putChallenge(ctx, sessionOwner(sess), ChallengeLogin, challenge, u.ID, ""); err != nil {
		return nil, err
	}
	return &assertion.Response, nil
}

// FinishWebAuthnLogin checks an assertion for a pending session and, on
// success, makes the session authenticated under a new token. A failed
// assertion counts toward lockout like a wrong code.
// Codes: invalid_request, invalid_credentials, locked, rate_limited, unauthenticated.
func (s *Service) FinishWebAuthnLogin(ctx context.Context, c Client, sess Session, u User, body []byte) (string, error) {
	if s.wa == nil {
		return "", errNoWebAuthn
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(body)
	if err != nil {
		return "", errBadResponse
	}
	stored, err := s.store.WebAuthnCredentials(ctx, u.ID)
	if err != nil {
		return "", s.internal(ctx, "list webauthn credentials", err)
	}
	if len(stored) == 0 {
		// Like /api/2fa/verify with a method the account lacks: not an attempt.
		return "", Errorf(CodeInvalidRequest, "this account has no security key")
	}
	// As for codes: the credential's use and the session's rotation are
	// one write, so a key racing a right code for this session cannot both
	// be recorded and lose.
	tok, rotation, err := s.rotation(ctx, sess)
	if err != nil {
		return "", err
	}
	err = s.attempt(ctx, c, u, MethodWebAuthn, "login", func(ctx context.Context) (bool, error) {
		ch, ok, err := s.takeChallenge(ctx, sessionOwner(sess), ChallengeLogin, parsed)
		if !ok || err != nil {
			return false, err
		}
		return s.checkAssertion(ctx, c, u, ch, parsed, rotation)
	})
	if err != nil {
		return "", keyError(err)
	}
	s.signedIn(ctx, c, u)
	return tok, nil
}

// StartPasskeyLogin begins a login with a passkey and no password: request
// options with no allowCredentials, requiring user verification. The
// ceremony is bound to the returned token, which the caller hands to the
// browser (a cookie) and passes back to FinishPasskeyLogin.
// Codes: rate_limited.
func (s *Service) StartPasskeyLogin(ctx context.Context, c Client) (*protocol.PublicKeyCredentialRequestOptions, string, error) {
	if s.wa == nil {
		return nil, "", errNoWebAuthn
	}
	// Every start stores a row: bound per IP like any login.
	if err := s.limit(s.authLimit, IPRateKey(c.IP)); err != nil {
		return nil, "", err
	}
	challenge, err := s.newChallenge()
	if err != nil {
		return nil, "", s.internal(ctx, "new webauthn challenge", err)
	}
	assertion, _, err := s.wa.BeginDiscoverableLogin(webauthn.WithChallenge(challenge),
		webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return nil, "", s.internal(ctx, "begin passkey login", err)
	}
	tok, hash, err := s.newToken()
	if err != nil {
		return nil, "", s.internal(ctx, "new ceremony token", err)
	}
	if err := s.putChallenge(ctx, "passkey:"+hash, ChallengePasskey, challenge, "", ""); err != nil {
		return nil, "", err
	}
	return &assertion.Response, tok, nil
}

// FinishPasskeyLogin checks a discoverable-credential assertion made with
// user verification; the user is the one the credential's user handle
// names. It counts as both factors and returns a new authenticated session.
// Codes: invalid_request, invalid_credentials, locked, rate_limited.
func (s *Service) FinishPasskeyLogin(ctx context.Context, c Client, ceremonyToken string, body []byte) (Registered, error) {
	if s.wa == nil {
		return Registered{}, errNoWebAuthn
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(body)
	if err != nil {
		return Registered{}, errBadResponse
	}
	if ceremonyToken == "" || len(ceremonyToken) > 128 {
		return Registered{}, errKeyNotVerified
	}
	// The ceremony is used up first, whatever follows: each try needs a new
	// start, which is rate limited per IP.
	ch, ok, err := s.takeChallenge(ctx, "passkey:"+HashToken(ceremonyToken), ChallengePasskey, parsed)
	if err != nil {
		return Registered{}, s.internal(ctx, "take webauthn challenge", err)
	}
	if !ok {
		return Registered{}, errKeyNotVerified
	}
	handle := parsed.Response.UserHandle
	if len(handle) == 0 || len(handle) > 64 || !utf8.Valid(handle) || bytes.IndexByte(handle, 0) >= 0 {
		return Registered{}, errKeyNotVerified // no user id looks like that
	}
	u, err := s.store.UserByID(ctx, string(handle))
	if errors.Is(err, ErrNotFound) {
		return Registered{}, errKeyNotVerified
	}
	if err != nil {
		return Registered{}, s.internal(ctx, "find passkey user", err)
	}
	// Only an assertion the user's own key signed counts toward their
	// lockout. User ids and credential ids are no secrets: were a forged
	// assertion counted, anyone could lock the user out. So the signature is
	// checked first, and a bad one is refused uncounted (each try used up a
	// start, which is limited per IP).
	stored, err := s.store.WebAuthnCredentials(ctx, u.ID)
	if err != nil {
		return Registered{}, s.internal(ctx, "list webauthn credentials", err)
	}
	cred, ok := findCredential(stored, parsed.RawID)
	if !ok {
		return Registered{}, errKeyNotVerified
	}
	if now := s.now(); u.LockedUntil.After(now) {
		return Registered{}, s.lockedError(u.LockedUntil, now)
	}
	if !signedBy(cred, parsed) {
		s.log.InfoContext(ctx, "passkey assertion refused uncounted: bad signature", "user_id", u.ID)
		return Registered{}, errKeyNotVerified
	}
	err = s.attempt(ctx, c, u, MethodWebAuthn, "passkey_login", func(ctx context.Context) (bool, error) {
		return s.checkAssertion(ctx, c, u, ch, parsed, nil) // a new session: nothing to rotate
	})
	if err != nil {
		return Registered{}, keyError(err)
	}
	tok, err := s.newSession(ctx, c, u.ID, StateAuthenticated)
	if err != nil {
		return Registered{}, err
	}
	s.record(ctx, c, EventLoginSucceeded, u.ID, map[string]any{"method": "passkey"})
	s.signedIn(ctx, c, u)
	return Registered{User: u, Token: tok}, nil
}

// takeChallenge takes the owner's open ceremony of this kind for the
// challenge the browser signed, so that it verifies at most once. false when
// there is none: unknown, used, expired, another owner's, or not even of the
// form twofold issues.
func (s *Service) takeChallenge(ctx context.Context, owner, kind string, parsed *protocol.ParsedCredentialAssertionData) (WebAuthnChallenge, bool, error) {
	claimed := parsed.Response.CollectedClientData.Challenge
	if !isChallenge(claimed) {
		return WebAuthnChallenge{}, false, nil
	}
	ch, err := s.store.TakeWebAuthnChallenge(ctx, owner, kind, claimed, s.now())
	if errors.Is(err, ErrNotFound) {
		return WebAuthnChallenge{}, false, nil
	}
	return ch, err == nil, err
}

// checkAssertion verifies an assertion for a ceremony already taken (type,
// challenge, exact origin, RP ID hash, UP, UV for a passkey login,
// signature, BE unchanged) against the user's credential, refuses a
// signature counter that did not advance (but 0/0), and writes the new
// counter and flags back with one conditional write, which also rotates
// the session when rotate is not nil (ErrSessionRotated when only that
// lost).
func (s *Service) checkAssertion(ctx context.Context, c Client, u User, ch WebAuthnChallenge, parsed *protocol.ParsedCredentialAssertionData, rotate *SessionRotation) (bool, error) {
	if ch.UserID != "" && ch.UserID != u.ID {
		return false, nil
	}
	stored, err := s.store.WebAuthnCredentials(ctx, u.ID)
	if err != nil {
		return false, err
	}
	user := waUser{u: u, creds: toLibrary(stored)}
	data := webauthn.SessionData{
		Challenge: ch.Challenge, RelyingPartyID: s.wa.Config.RPID, UserID: user.WebAuthnID(),
		UserVerification: protocol.VerificationPreferred,
	}
	if ch.Kind == ChallengePasskey {
		// A passkey login stands for both factors only with UV (SPEC §4).
		data.UserVerification = protocol.VerificationRequired
	} else {
		for _, wc := range user.creds {
			data.AllowedCredentialIDs = append(data.AllowedCredentialIDs, wc.ID)
		}
	}
	if err := s.exactOrigin(parsed.Response.CollectedClientData); err != nil {
		s.log.InfoContext(ctx, "webauthn assertion refused", "user_id", u.ID, "err", err.Error())
		return false, nil
	}
	verified, err := s.wa.ValidateLogin(user, data, parsed)
	if err != nil {
		s.log.InfoContext(ctx, "webauthn assertion refused", "user_id", u.ID, "err", describe(err))
		return false, nil
	}
	cred, ok := findCredential(stored, verified.ID)
	if !ok {
		return false, nil
	}
	got := parsed.Response.AuthenticatorData.Counter
	flags := parsed.Response.AuthenticatorData.Flags
	if (got != 0 || cred.SignCount != 0) && got <= cred.SignCount {
		s.counterRegressed(ctx, c, u, cred, got)
		return false, nil
	}
	used, err := s.store.UseWebAuthnCredential(ctx, cred.ID, got, flags.HasUserVerified(), cred.BackupEligible, flags.HasBackupState(), s.now(), rotate)
	if err != nil {
		return false, err
	}
	if !used {
		// Another assertion advanced the counter to got or beyond meanwhile.
		s.counterRegressed(ctx, c, u, cred, got)
		return false, nil
	}
	return true, nil
}

// counterRegressed records and alerts a signature counter that did not
// advance: the sign of a cloned authenticator (WebAuthn §6.1.1).
func (s *Service) counterRegressed(ctx context.Context, c Client, u User, cred WebAuthnCredential, got uint32) {
	s.record(ctx, c, EventWebAuthnRegressed, u.ID, map[string]any{
		"id": cred.ID, "name": cred.Name, "stored_count": cred.SignCount, "received_count": got,
	})
	s.AlertCounterRegressed(ctx, u, c, cred.ID, cred.Name)
}

// findCredential finds the stored credential with this raw credential id.
func findCredential(cs []WebAuthnCredential, rawID []byte) (WebAuthnCredential, bool) {
	id := base64.RawURLEncoding.EncodeToString(rawID)
	for _, c := range cs {
		if c.CredentialID == id {
			return c, true
		}
	}
	return WebAuthnCredential{}, false
}

// keyError turns a failed attempt's invalid_code into the
// invalid_credentials that the WebAuthn endpoints answer (SPEC §3).
func keyError(err error) error {
	if ErrorCode(err) == CodeInvalidCode {
		return errKeyNotVerified
	}
	return err
}

// exactOrigin refuses client data from any origin but the public URL's,
// compared as strings: package webauthn compares scheme and host without
// regard to case and ignores a path or user info, none of which a browser
// sends for the real origin.
func (s *Service) exactOrigin(cd protocol.CollectedClientData) error {
	if want := s.wa.Config.RPOrigins[0]; cd.Origin != want {
		return fmt.Errorf("origin is not exactly %s", want)
	}
	return nil
}

// signedBy reports whether the assertion's signature over its
// authenticator data and client data verifies with cred's public key
// (WebAuthn §7.2 step 21), and nothing else.
func signedBy(cred WebAuthnCredential, p *protocol.ParsedCredentialAssertionData) bool {
	raw, err := base64.RawURLEncoding.DecodeString(cred.PublicKey)
	if err != nil {
		return false
	}
	key, err := webauthncose.ParsePublicKey(raw)
	if err != nil {
		return false
	}
	cdHash := sha256.Sum256(p.Raw.AssertionResponse.ClientDataJSON)
	ok, err := webauthncose.VerifySignature(key, slices.Concat(p.Raw.AssertionResponse.AuthenticatorData, cdHash[:]), p.Response.Signature)
	return ok && err == nil
}

// describe gives a package webauthn error's detail for the log; it holds no
// secret (only which check failed).
func describe(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return pe.Type + ": " + pe.Details + " " + pe.DevInfo
	}
	return err.Error()
}

// RemoveWebAuthnCredential removes one security key or passkey. Removing
// the last second factor turns two-factor sign-in off.
// Codes: reauthentication_required, not_found.
func (s *Service) RemoveWebAuthnCredential(ctx context.Context, c Client, sess Session, u User, id string) error {
	return s.removeFactor(ctx, c, sess, u, id, "security key", EventWebAuthnRemoved, s.store.DeleteWebAuthnCredential)
}
