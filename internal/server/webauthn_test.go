package server_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/descope/virtualwebauthn"
)

// The harness's public URL is http://localhost:8080.
var testRP = virtualwebauthn.RelyingParty{ID: "localhost", Name: "twofold", Origin: "http://localhost:8080"}

// Authenticator data flags (WebAuthn §6.1).
const (
	flagUP = 0x01
	flagUV = 0x04
	flagBE = 0x08
	flagBS = 0x10
)

// vkey is a software security key.
type vkey struct {
	t    testing.TB
	auth virtualwebauthn.Authenticator
	cred virtualwebauthn.Credential
}

func newVKey(t testing.TB, o virtualwebauthn.AuthenticatorOptions) *vkey {
	k := &vkey{t: t, auth: virtualwebauthn.NewAuthenticatorWithOptions(o), cred: newEC2Credential()}
	k.auth.AddCredential(k.cred)
	return k
}

// newEC2Credential is a virtualwebauthn P-256 credential whose COSE key is
// well formed. virtualwebauthn encodes the coordinates with big.Int.Bytes,
// which drops leading zero bytes: about 1 key in 128 has a 31-byte
// coordinate, which COSE (RFC 9053 §7.1.1) and so twofold rightly refuse. A
// well-formed key's COSE map is 77 bytes.
func newEC2Credential() virtualwebauthn.Credential {
	for {
		c := virtualwebauthn.NewCredential(virtualwebauthn.KeyTypeEC2)
		if len(c.Key.AttestationData()) == 77 {
			return c
		}
	}
}

// attest answers creation options the way a browser's credential.toJSON() does.
func (k *vkey) attest(rp virtualwebauthn.RelyingParty, options []byte) string {
	k.t.Helper()
	o, err := virtualwebauthn.ParseAttestationOptions(string(options))
	if err != nil {
		k.t.Fatalf("parse creation options: %v; options: %s", err, options)
	}
	k.auth.Options.UserHandle = []byte(o.UserID)
	return virtualwebauthn.CreateAttestationResponse(rp, k.auth, k.cred, *o)
}

// register adds k to c's account and returns the register/complete response.
func (k *vkey) register(c *client, name string) *response {
	k.t.Helper()
	opts := c.do("POST", "/api/webauthn/register/start", map[string]string{"name": name}).want(k.t, 200, "")
	return c.do("POST", "/api/webauthn/register/complete", k.attest(testRP, opts.Raw))
}

// assertion is what an authenticator signs, with every part adjustable so a
// test can produce what no honest browser would.
type assertion struct {
	Type, Origin, RPID string
	Challenge          []byte
	Flags              byte
	Counter            uint32
	CredType           string
	CorruptSignature   bool
	NoUserHandle       bool
}

// honest returns the assertion k makes for request options: the next
// counter value, UP and UV set, BE and BS as the key has them.
func (k *vkey) honest(options []byte) assertion {
	k.t.Helper()
	o, err := virtualwebauthn.ParseAssertionOptions(string(options))
	if err != nil {
		k.t.Fatalf("parse request options: %v; options: %s", err, options)
	}
	k.cred.Counter++
	flags := byte(flagUP | flagUV)
	if k.auth.Options.BackupEligible {
		flags |= flagBE
	}
	if k.auth.Options.BackupState {
		flags |= flagBS
	}
	return assertion{Type: "webauthn.get", Origin: testRP.Origin, RPID: testRP.ID, Challenge: o.Challenge,
		Flags: flags, Counter: k.cred.Counter, CredType: "public-key"}
}

// sign makes the AuthenticationResponseJSON for a.
func (k *vkey) sign(a assertion) string {
	k.t.Helper()
	cd, _ := json.Marshal(map[string]any{
		"type": a.Type, "challenge": base64.RawURLEncoding.EncodeToString(a.Challenge), "origin": a.Origin, "crossOrigin": false,
	})
	rpHash := sha256.Sum256([]byte(a.RPID))
	authData := append(rpHash[:], a.Flags, 0, 0, 0, 0)
	binary.BigEndian.PutUint32(authData[33:], a.Counter)
	cdHash := sha256.Sum256(cd)
	digest := sha256.Sum256(append(append([]byte{}, authData...), cdHash[:]...))
	sig, err := k.cred.Key.Sign(digest[:])
	if err != nil {
		k.t.Fatalf("sign: %v", err)
	}
	if a.CorruptSignature {
		sig[len(sig)-1] ^= 0x01
	}
	b64 := base64.RawURLEncoding.EncodeToString
	resp := map[string]any{"clientDataJSON": b64(cd), "authenticatorData": b64(authData), "signature": b64(sig)}
	if !a.NoUserHandle {
		resp["userHandle"] = b64(k.auth.Options.UserHandle)
	}
	out, _ := json.Marshal(map[string]any{
		"id": b64(k.cred.ID), "rawId": b64(k.cred.ID), "type": a.CredType, "response": resp,
		"clientExtensionResults": map[string]any{}, "authenticatorAttachment": "cross-platform",
	})
	return string(out)
}

// login runs a WebAuthn login step for c (pending, or no session for a
// passkey login), letting mutate change the assertion first.
func (k *vkey) login(c *client, mutate func(*assertion)) *response {
	k.t.Helper()
	opts := c.do("POST", "/api/webauthn/authenticate/start", nil).want(k.t, 200, "")
	a := k.honest(opts.Raw)
	if mutate != nil {
		mutate(&a)
	}
	return c.do("POST", "/api/webauthn/authenticate/complete", k.sign(a))
}

// withKey registers email and adds a fresh key with options o.
func (e *env) withKey(t *testing.T, email string, o virtualwebauthn.AuthenticatorOptions) (*client, *vkey, *response) {
	t.Helper()
	c := e.register(email, pw)
	k := newVKey(t, o)
	return c, k, k.register(c, "YubiKey").want(t, 200, "")
}

// storedCount is the signature counter stored for email's only key.
func (e *env) storedCount(t *testing.T, email string) uint32 {
	t.Helper()
	u, err := e.DB.UserByEmail(t.Context(), email)
	if err != nil {
		t.Fatalf("user: %v", err)
	}
	cs, err := e.DB.WebAuthnCredentials(t.Context(), u.ID)
	if err != nil || len(cs) != 1 {
		t.Fatalf("credentials: %v (%d)", err, len(cs))
	}
	return cs[0].SignCount
}

func (e *env) failedAttempts(t *testing.T, email string) int {
	t.Helper()
	u, err := e.DB.UserByEmail(t.Context(), email)
	if err != nil {
		t.Fatalf("user: %v", err)
	}
	return u.FailedAttempts
}

func TestWebAuthnRegistration(t *testing.T) {
	e := newEnv(t)

	t.Run("CreationOptionsAreLevel3JSON", func(t *testing.T) {
		c := e.register("opts@example.com", pw)
		r := c.do("POST", "/api/webauthn/register/start", map[string]string{"name": "Key"}).want(t, 200, "")
		var o struct {
			RP        struct{ ID, Name string }
			User      struct{ ID, Name, DisplayName string }
			Challenge string
			Params    []struct {
				Type string
				Alg  int
			} `json:"pubKeyCredParams"`
			Timeout     int
			Attestation string
			Selection   struct {
				ResidentKey      string
				UserVerification string
			} `json:"authenticatorSelection"`
		}
		if err := json.Unmarshal(r.Raw, &o); err != nil {
			t.Fatalf("options: %v", err)
		}
		if o.RP.ID != "localhost" || o.RP.Name != "twofold" || o.User.Name != "opts@example.com" {
			t.Errorf("rp/user: got %+v %+v", o.RP, o.User)
		}
		if ch, err := base64.RawURLEncoding.DecodeString(o.Challenge); err != nil || len(ch) != 32 {
			t.Errorf("challenge: got %d bytes (%v), want 32 bytes base64url", len(ch), err)
		}
		if _, err := base64.RawURLEncoding.DecodeString(o.User.ID); err != nil || o.User.ID == "" {
			t.Errorf("user.id is not base64url: %v", err)
		}
		if o.Attestation != "none" || o.Selection.ResidentKey != "preferred" || o.Selection.UserVerification != "preferred" {
			t.Errorf("got attestation %q residentKey %q userVerification %q, want none, preferred, preferred",
				o.Attestation, o.Selection.ResidentKey, o.Selection.UserVerification)
		}
		if len(o.Params) == 0 || o.Params[0].Type != "public-key" || o.Timeout != 300000 {
			t.Errorf("pubKeyCredParams %+v timeout %d", o.Params, o.Timeout)
		}
		if !strings.Contains(string(r.Raw), `"excludeCredentials":[]`) {
			t.Errorf("excludeCredentials: got %s, want [] before the first key", r.Raw)
		}
		if strings.Contains(string(r.Raw), `"publicKey"`) {
			t.Errorf("options are wrapped in publicKey; parseCreationOptionsFromJSON takes them bare: %s", r.Raw)
		}
	})

	t.Run("FirstKeyEnablesTwoFactorWithBackupCodes", func(t *testing.T) {
		c, k, r := e.withKey(t, "first@example.com", virtualwebauthn.AuthenticatorOptions{})
		codes, _ := r.Body["backup_codes"].([]any)
		if r.Body["success"] != true || len(codes) != 10 || r.str("method", "name") != "YubiKey" || r.str("method", "id") == "" {
			t.Fatalf("register/complete: got %s", r.Raw)
		}
		me := c.do("GET", "/api/me", nil).want(t, 200, "")
		keys := me.Body["methods"].(map[string]any)["webauthn"].([]any)
		if len(keys) != 1 || keys[0].(map[string]any)["id"] != r.str("method", "id") || me.Body["user"].(map[string]any)["two_factor_enabled"] != true {
			t.Errorf("/api/me: got %s", me.Raw)
		}
		if types := c.eventTypes(t); !has(types, "webauthn.registered") || !has(types, "backup_codes.generated") {
			t.Errorf("events: got %v", types)
		}
		if !e.alerted("first@example.com", "New security key") {
			t.Errorf("no alert for the new key")
		}

		// A second key: excluded credentials list the first, no new codes.
		opts := c.do("POST", "/api/webauthn/register/start", nil).want(t, 200, "")
		if !strings.Contains(string(opts.Raw), base64.RawURLEncoding.EncodeToString(k.cred.ID)) {
			t.Errorf("excludeCredentials does not list the first key: %s", opts.Raw)
		}
		k2 := newVKey(t, virtualwebauthn.AuthenticatorOptions{})
		r2 := c.do("POST", "/api/webauthn/register/complete", k2.attest(testRP, opts.Raw)).want(t, 200, "")
		if _, ok := r2.Body["backup_codes"]; ok || r2.str("method", "name") != "Security key" {
			t.Errorf("second key: got %s, want default name and no backup codes", r2.Raw)
		}
	})

	t.Run("SameKeyTwiceRefused", func(t *testing.T) {
		c, k, _ := e.withKey(t, "twice@example.com", virtualwebauthn.AuthenticatorOptions{})
		k.register(c, "again").want(t, 400, "invalid_request")
	})

	t.Run("WrongOriginRefused", func(t *testing.T) {
		c := e.register("origin@example.com", pw)
		opts := c.do("POST", "/api/webauthn/register/start", nil).want(t, 200, "")
		evil := testRP
		evil.Origin = "http://localhost:8081"
		c.do("POST", "/api/webauthn/register/complete", newVKey(t, virtualwebauthn.AuthenticatorOptions{}).attest(evil, opts.Raw)).
			want(t, 400, "invalid_request")
	})

	t.Run("WrongRPIDRefused", func(t *testing.T) {
		c := e.register("rpid@example.com", pw)
		opts := c.do("POST", "/api/webauthn/register/start", nil).want(t, 200, "")
		evil := testRP
		evil.ID = "evil.example"
		c.do("POST", "/api/webauthn/register/complete", newVKey(t, virtualwebauthn.AuthenticatorOptions{}).attest(evil, opts.Raw)).
			want(t, 400, "invalid_request")
	})

	t.Run("UserPresenceRequired", func(t *testing.T) {
		c := e.register("up@example.com", pw)
		k := newVKey(t, virtualwebauthn.AuthenticatorOptions{UserNotPresent: true})
		k.register(c, "").want(t, 400, "invalid_request")
	})

	t.Run("ChallengeUsedOnce", func(t *testing.T) {
		c := e.register("regonce@example.com", pw)
		opts := c.do("POST", "/api/webauthn/register/start", nil).want(t, 200, "")
		body := newVKey(t, virtualwebauthn.AuthenticatorOptions{}).attest(testRP, opts.Raw)
		c.do("POST", "/api/webauthn/register/complete", body).want(t, 200, "")
		c.do("POST", "/api/webauthn/register/complete", body).want(t, 400, "invalid_request")
	})

	t.Run("ChallengeExpiresAfterFiveMinutes", func(t *testing.T) {
		c := e.register("regexp@example.com", pw)
		opts := c.do("POST", "/api/webauthn/register/start", nil).want(t, 200, "")
		e.Clock.Advance(5*time.Minute + time.Second)
		c.do("POST", "/api/webauthn/register/complete", newVKey(t, virtualwebauthn.AuthenticatorOptions{}).attest(testRP, opts.Raw)).
			want(t, 400, "invalid_request")
	})

	t.Run("NeedsRecentAuthentication", func(t *testing.T) {
		c := e.register("stale@example.com", pw)
		e.Clock.Advance(11 * time.Minute)
		c.do("POST", "/api/webauthn/register/start", nil).want(t, 403, "reauthentication_required")
	})

	t.Run("MalformedBodiesAreInvalidRequest", func(t *testing.T) {
		c := e.register("junk@example.com", pw)
		c.do("POST", "/api/webauthn/register/start", nil).want(t, 200, "")
		for _, body := range []string{"", "null", "[]", "{", `{"id":1}`, `{"id":"AA","rawId":"AA","type":"public-key","response":{}}`,
			strings.Repeat(" ", 70<<10)} {
			c.do("POST", "/api/webauthn/register/complete", body).want(t, 400, "invalid_request")
		}
	})

	t.Run("RequiresAuthenticatedSession", func(t *testing.T) {
		e.client().do("POST", "/api/webauthn/register/start", nil).want(t, 401, "unauthenticated")
		e.client().do("POST", "/api/webauthn/register/complete", "{}").want(t, 401, "unauthenticated")
	})
}

func TestWebAuthnSecondFactorLogin(t *testing.T) {
	e := newEnv(t)
	const email = "2fa@example.com"
	c, k, _ := e.withKey(t, email, virtualwebauthn.AuthenticatorOptions{})

	t.Run("LoginOffersWebAuthn", func(t *testing.T) {
		r := e.client().do("POST", "/api/login", map[string]string{"email": email, "password": pw}).want(t, 200, "")
		if got := string(r.Raw); !strings.Contains(got, `"webauthn"`) || !strings.Contains(got, `"backup_code"`) {
			t.Errorf("login: got %s, want methods webauthn and backup_code", got)
		}
	})

	t.Run("RequestOptionsListTheUsersKeys", func(t *testing.T) {
		p := e.pendingLogin(email)
		r := p.do("POST", "/api/webauthn/authenticate/start", nil).want(t, 200, "")
		var o struct {
			Challenge        string
			RPID             string `json:"rpId"`
			UserVerification string
			AllowCredentials []struct{ Type, ID string }
		}
		if err := json.Unmarshal(r.Raw, &o); err != nil {
			t.Fatal(err)
		}
		if o.RPID != "localhost" || o.UserVerification != "preferred" || len(o.AllowCredentials) != 1 ||
			o.AllowCredentials[0].ID != base64.RawURLEncoding.EncodeToString(k.cred.ID) || o.AllowCredentials[0].Type != "public-key" {
			t.Errorf("request options: got %s", r.Raw)
		}
	})

	t.Run("AssertionAuthenticates", func(t *testing.T) {
		p := e.pendingLogin(email)
		before := p.cookie("twofold_session")
		r := k.login(p, nil).want(t, 200, "")
		if r.str("status") != "authenticated" || r.str("user", "email") != email {
			t.Errorf("complete: got %s", r.Raw)
		}
		if p.cookie("twofold_session") == before {
			t.Errorf("session token not rotated")
		}
		me := p.do("GET", "/api/me", nil).want(t, 200, "")
		key := me.Body["methods"].(map[string]any)["webauthn"].([]any)[0].(map[string]any)
		if key["last_used_at"] == nil {
			t.Errorf("last_used_at not set: %s", me.Raw)
		}
	})

	// Each negative case is refused with 401 invalid_credentials and
	// counted as a failed second-factor attempt.
	refused := []struct {
		name   string
		mutate func(*assertion)
		why    string // what the server logs when it refuses for this reason
	}{
		{"BadSignatureRefused", func(a *assertion) { a.CorruptSignature = true }, "Error validating the assertion signature"},
		{"WrongRPIDHashRefused", func(a *assertion) { a.RPID = "evil.example" }, "RP Hash mismatch"},
		{"UserPresenceUnsetRefused", func(a *assertion) { a.Flags &^= flagUP }, "User presence required"},
		{"BackupEligibilityFlippedRefused", func(a *assertion) { a.Flags |= flagBE }, "Backup Eligible flag inconsistency"},
		{"BackupStateWithoutEligibilityRefused", func(a *assertion) { a.Flags |= flagBS }, "Backup State Flag is true but Backup Eligible flag is false"},
		{"WrongClientDataTypeRefused", func(a *assertion) { a.Type = "webauthn.create" }, "Error validating ceremony type"},
		{"WrongOriginRefused", func(a *assertion) { a.Origin = "http://localhost:8081" }, "origin is not exactly"},
		{"OriginWithOtherSchemeRefused", func(a *assertion) { a.Origin = "https://localhost:8080" }, "origin is not exactly"},
		{"WrongChallengeRefused", func(a *assertion) { a.Challenge = make([]byte, 32) }, ""}, // no open ceremony has it
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			p := e.pendingLogin(email)
			n := e.failedAttempts(t, email)
			logged := strings.Count(e.Logs.String(), tc.why)
			k.login(p, tc.mutate).want(t, 401, "invalid_credentials")
			if tc.why != "" && strings.Count(e.Logs.String(), tc.why) != logged+1 {
				t.Errorf("not refused for the reason under test (%q)", tc.why)
			}
			if got := e.failedAttempts(t, email); got != n+1 {
				t.Errorf("failed attempts: got %d, want %d", got, n+1)
			}
			k.login(p, nil).want(t, 200, "") // resets the count
		})
	}

	t.Run("WrongCredentialTypeIsInvalidRequest", func(t *testing.T) {
		p := e.pendingLogin(email)
		k.login(p, func(a *assertion) { a.CredType = "password" }).want(t, 400, "invalid_request")
	})

	t.Run("ChallengeUsedOnce", func(t *testing.T) {
		p := e.pendingLogin(email)
		opts := p.do("POST", "/api/webauthn/authenticate/start", nil).want(t, 200, "")
		body := k.sign(k.honest(opts.Raw))
		p.do("POST", "/api/webauthn/authenticate/complete", body).want(t, 200, "")

		// The same response again, for a new pending login.
		p2 := e.pendingLogin(email)
		p2.do("POST", "/api/webauthn/authenticate/start", nil).want(t, 200, "")
		p2.do("POST", "/api/webauthn/authenticate/complete", body).want(t, 401, "invalid_credentials")
		k.login(p2, nil).want(t, 200, "") // resets the count
	})

	t.Run("ChallengeBoundToTheSessionThatBeganIt", func(t *testing.T) {
		p1, p2 := e.pendingLogin(email), e.pendingLogin(email)
		opts := p1.do("POST", "/api/webauthn/authenticate/start", nil).want(t, 200, "")
		p2.do("POST", "/api/webauthn/authenticate/complete", k.sign(k.honest(opts.Raw))).want(t, 401, "invalid_credentials")
		k.login(p2, nil).want(t, 200, "")
	})

	t.Run("ChallengeExpiresAfterFiveMinutes", func(t *testing.T) {
		p := e.pendingLogin(email)
		opts := p.do("POST", "/api/webauthn/authenticate/start", nil).want(t, 200, "")
		e.Clock.Advance(5*time.Minute + time.Second)
		p.do("POST", "/api/webauthn/authenticate/complete", k.sign(k.honest(opts.Raw))).want(t, 401, "invalid_credentials")
		k.login(e.pendingLogin(email), nil).want(t, 200, "")
	})

	t.Run("CounterRegressionRefusedAndAlerted", func(t *testing.T) {
		p := e.pendingLogin(email)
		k.login(p, func(a *assertion) { a.Counter = 1 }).want(t, 401, "invalid_credentials")
		if types := c.eventTypes(t); !has(types, "webauthn.counter_regressed") {
			t.Errorf("no webauthn.counter_regressed event in %v", types)
		}
		if !e.alerted(email, "copied") {
			t.Errorf("no alert for the counter regression")
		}
		p = e.pendingLogin(email)
		stored := e.storedCount(t, email)
		k.login(p, func(a *assertion) { a.Counter = stored }).want(t, 401, "invalid_credentials") // equal is no advance
		k.login(p, nil).want(t, 200, "")
	})

	t.Run("NeedsPendingSession", func(t *testing.T) {
		// An authenticated session gets a passkey login instead, which
		// refuses an assertion with no ceremony cookie of its own.
		c.do("POST", "/api/webauthn/authenticate/complete", k.sign(assertion{Type: "webauthn.get", Origin: testRP.Origin,
			RPID: testRP.ID, Challenge: make([]byte, 32), Flags: flagUP | flagUV, Counter: 999, CredType: "public-key"})).
			want(t, 401, "invalid_credentials")
	})

	t.Run("FailuresLockTheAccount", func(t *testing.T) {
		p := e.pendingLogin(email)
		for range 5 {
			k.login(p, func(a *assertion) { a.CorruptSignature = true }).want(t, 401, "invalid_credentials")
		}
		k.login(p, nil).want(t, 429, "locked")
		if !e.alerted(email, "locked") {
			t.Errorf("no lockout alert")
		}
	})
}

func TestPasskeyLogin(t *testing.T) {
	e := newEnv(t)
	const email = "passkey@example.com"
	c, k, _ := e.withKey(t, email, virtualwebauthn.AuthenticatorOptions{BackupEligible: true, BackupState: true})

	t.Run("RequestOptionsAreForADiscoverableCredential", func(t *testing.T) {
		r := e.client().do("POST", "/api/webauthn/authenticate/start", nil).want(t, 200, "")
		if !strings.Contains(string(r.Raw), `"allowCredentials":[]`) || !strings.Contains(string(r.Raw), `"userVerification":"required"`) {
			t.Errorf("passkey options: got %s, want empty allowCredentials and userVerification required", r.Raw)
		}
		ck := findCookie(t, r.Header, "twofold_webauthn")
		if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.MaxAge != 300 {
			t.Errorf("ceremony cookie: got %+v", ck)
		}
	})

	t.Run("UserVerifiedPasskeyCountsAsBothFactors", func(t *testing.T) {
		p := e.client()
		r := k.login(p, nil).want(t, 200, "")
		if r.str("status") != "authenticated" || r.str("user", "email") != email {
			t.Errorf("passkey login: got %s", r.Raw)
		}
		p.do("GET", "/api/me", nil).want(t, 200, "")
	})

	t.Run("WithoutUserVerificationRefused", func(t *testing.T) {
		p := e.client()
		n := e.failedAttempts(t, email)
		k.login(p, func(a *assertion) { a.Flags &^= flagUV }).want(t, 401, "invalid_credentials")
		p.do("GET", "/api/me", nil).want(t, 401, "unauthenticated")
		if got := e.failedAttempts(t, email); got != n+1 {
			t.Errorf("failed attempts: got %d, want %d", got, n+1)
		}
	})

	t.Run("BackupStateMayChangeButNotEligibility", func(t *testing.T) {
		k.login(e.client(), func(a *assertion) { a.Flags &^= flagBS }).want(t, 200, "")
		k.login(e.client(), func(a *assertion) { a.Flags &^= flagBE | flagBS }).want(t, 401, "invalid_credentials")
	})

	t.Run("WithoutCeremonyCookieRefused", func(t *testing.T) {
		p := e.client()
		opts := p.do("POST", "/api/webauthn/authenticate/start", nil).want(t, 200, "")
		other := e.client()
		other.do("POST", "/api/webauthn/authenticate/complete", k.sign(k.honest(opts.Raw))).want(t, 401, "invalid_credentials")
	})

	t.Run("WithoutUserHandleRefused", func(t *testing.T) {
		k.login(e.client(), func(a *assertion) { a.NoUserHandle = true }).want(t, 401, "invalid_credentials")
	})

	t.Run("UnknownCredentialDoesNotCountTowardLockout", func(t *testing.T) {
		stranger := newVKey(t, virtualwebauthn.AuthenticatorOptions{UserHandle: k.auth.Options.UserHandle})
		n := e.failedAttempts(t, email)
		for range 6 {
			stranger.login(e.client(), nil).want(t, 401, "invalid_credentials")
		}
		if got := e.failedAttempts(t, email); got != n {
			t.Errorf("failed attempts: got %d, want %d", got, n)
		}
	})

	t.Run("EveryTryUsesUpTheCeremony", func(t *testing.T) {
		p := e.client()
		opts := p.do("POST", "/api/webauthn/authenticate/start", nil).want(t, 200, "")
		stranger := newVKey(t, virtualwebauthn.AuthenticatorOptions{})
		p.do("POST", "/api/webauthn/authenticate/complete", stranger.sign(stranger.honest(opts.Raw))).want(t, 401, "invalid_credentials")
		p.do("POST", "/api/webauthn/authenticate/complete", k.sign(k.honest(opts.Raw))).want(t, 401, "invalid_credentials")
	})

	t.Run("ZeroCountersAccepted", func(t *testing.T) {
		// Synced passkeys report 0 every time: 0 after 0 is no regression.
		c2, k2, _ := e.withKey(t, "synced@example.com", virtualwebauthn.AuthenticatorOptions{BackupEligible: true, BackupState: true})
		_ = c2
		for range 2 {
			k2.login(e.client(), func(a *assertion) { a.Counter = 0 }).want(t, 200, "")
		}
	})

	t.Run("RemovingTheLastKeyTurnsTwoFactorOff", func(t *testing.T) {
		me := c.do("GET", "/api/me", nil).want(t, 200, "")
		id := me.Body["methods"].(map[string]any)["webauthn"].([]any)[0].(map[string]any)["id"].(string)
		e.Clock.Advance(11 * time.Minute)
		c.do("DELETE", "/api/webauthn/credentials/"+id, nil).want(t, 403, "reauthentication_required")
		c = e.client()
		k.login(c, nil).want(t, 200, "")
		c.do("DELETE", "/api/webauthn/credentials/nope", nil).want(t, 404, "not_found")
		c.do("DELETE", "/api/webauthn/credentials/"+id, nil).want(t, 204, "")
		if types := c.eventTypes(t); !has(types, "webauthn.removed") || !has(types, "2fa.disabled") {
			t.Errorf("events: got %v", types)
		}
		me = c.do("GET", "/api/me", nil).want(t, 200, "")
		if me.Body["user"].(map[string]any)["two_factor_enabled"] != false || me.Body["methods"].(map[string]any)["backup_codes_remaining"] != float64(0) {
			t.Errorf("after removing the last key: %s", me.Raw)
		}
		k.login(e.client(), nil).want(t, 401, "invalid_credentials")
	})
}

func TestWebAuthnWithoutKeys(t *testing.T) {
	e := newEnv(t)
	u := e.enroll("apponly@example.com")
	p := e.pendingLogin(u.email)
	p.do("POST", "/api/webauthn/authenticate/start", nil).want(t, 400, "invalid_request")
	k := newVKey(t, virtualwebauthn.AuthenticatorOptions{})
	body := k.sign(assertion{Type: "webauthn.get", Origin: testRP.Origin, RPID: testRP.ID, Challenge: make([]byte, 32),
		Flags: flagUP | flagUV, Counter: 1, CredType: "public-key"})
	p.do("POST", "/api/webauthn/authenticate/complete", body).want(t, 400, "invalid_request")
	if n := e.failedAttempts(t, u.email); n != 0 {
		t.Errorf("failed attempts: got %d, want 0 (not an attempt, as for a method the account lacks)", n)
	}
	p.verify("totp", e.code(u.secret)).want(t, 200, "")
}

func TestWebAuthnCeremonySpansInstances(t *testing.T) {
	// Two instances over one database: a ceremony begun on one finishes on
	// the other, because its challenge lives in the database.
	dbPath, ring := filepath.Join(t.TempDir(), "twofold.db"), ringOf(mustKey(t))
	shared := func(o *options) { o.dbPath, o.auth.Keys = dbPath, ring }
	a, b := newEnv(t, shared), newEnv(t, shared)
	const email = "spans@example.com"
	_, k, _ := a.withKey(t, email, virtualwebauthn.AuthenticatorOptions{})

	t.Run("SecondFactor", func(t *testing.T) {
		onA := a.pendingLogin(email)
		opts := onA.do("POST", "/api/webauthn/authenticate/start", nil).want(t, 200, "")
		onB := b.client()
		onB.setCookie("twofold_session", onA.cookie("twofold_session"))
		onB.do("POST", "/api/webauthn/authenticate/complete", k.sign(k.honest(opts.Raw))).want(t, 200, "")
		onB.do("GET", "/api/me", nil).want(t, 200, "")
	})

	t.Run("Passkey", func(t *testing.T) {
		opts := a.client().do("POST", "/api/webauthn/authenticate/start", nil).want(t, 200, "")
		ceremony := findCookie(t, opts.Header, "twofold_webauthn")
		onB := b.client()
		onB.header.Set("Cookie", "twofold_webauthn="+ceremony.Value)
		onB.do("POST", "/api/webauthn/authenticate/complete", k.sign(k.honest(opts.Raw))).want(t, 200, "")
	})
}

func TestWebAuthnSecondFactorRemembersDevice(t *testing.T) {
	e := newEnv(t, withDevices)
	// Log in with password and key, asking to remember this browser.
	c, key, _ := e.withKey(t, "third@example.com", virtualwebauthn.AuthenticatorOptions{})
	c.do("POST", "/api/logout", nil).want(t, 204, "")
	c.do("POST", "/api/login", map[string]string{"email": "third@example.com", "password": pw}).want(t, 200, "")
	opts := c.do("POST", "/api/webauthn/authenticate/start", nil).want(t, 200, "")
	c.do("POST", "/api/webauthn/authenticate/complete?remember_device=true", key.sign(key.honest(opts.Raw))).want(t, 200, "")
	if c.cookie("twofold_device") == "" {
		t.Fatal("no twofold_device cookie after remember_device=true")
	}
	c.do("POST", "/api/logout", nil).want(t, 204, "")
	r := c.do("POST", "/api/login", map[string]string{"email": "third@example.com", "password": pw}).want(t, 200, "")
	if r.Body["status"] != "authenticated" {
		t.Errorf("login on the remembered device: status %v, want authenticated", r.Body["status"])
	}
}
