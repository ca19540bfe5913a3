package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/twofold-auth/twofold/internal/password"
	"github.com/twofold-auth/twofold/internal/totp"
)

// Importing users from another system (twofold user import): one JSON object
// per line, {"email", "password_hash", "totp_secrets": [...]} or a single
// "totp_secret". Hashes are stored as they are (argon2id or bcrypt; Login
// re-hashes a weaker one at the user's next sign-in) and TOTP secrets are
// sealed like enrolled ones.

// Limits on one import line.
const (
	// MaxImportLine is the longest line ParseImportLine reads, in bytes.
	MaxImportLine = 16 << 10
	// MaxImportTOTP is the most TOTP secrets one imported user may bring.
	MaxImportTOTP = 10
	// minImportSecret is RFC 4226's minimum shared-secret length (128 bits, R6);
	// maxImportSecret bounds a secret at twice SHA-512's block.
	minImportSecret = 16
	maxImportSecret = 128
)

// ImportUser is one user to import, as checked by ParseImportLine.
type ImportUser struct {
	Email        string // normalised
	PasswordHash string // argon2id or bcrypt, checked by password.Check
	TOTPSecrets  [][]byte
}

// ImportedUser is one account for Importer.ImportUsers: the user, its
// confirmed authenticator apps (secrets sealed) and the event recording it.
type ImportedUser struct {
	User  User
	TOTP  []TOTPAuthenticator
	Event Event
}

// Importer stores imported users in bulk.
type Importer interface {
	// ImportUsers inserts, in one transaction, each user whose email is not
	// taken, with its authenticators and event. inserted[i] reports whether
	// users[i] was inserted: false when the email was taken, by an existing
	// user or an earlier one in users (the first one wins).
	ImportUsers(ctx context.Context, users []ImportedUser) (inserted []bool, err error)
}

// importLine is the JSON form of one import line.
type importLine struct {
	Email        *string  `json:"email"`
	PasswordHash *string  `json:"password_hash"`
	TOTPSecrets  []string `json:"totp_secrets"`
	TOTPSecret   *string  `json:"totp_secret"`
}

// ParseImportLine parses and checks one import line (without its newline).
// Its errors (code invalid_request) say what is wrong without quoting the
// line: it holds a password hash and TOTP secrets.
func ParseImportLine(line []byte) (ImportUser, error) {
	bad := func(format string, args ...any) (ImportUser, error) {
		return ImportUser{}, Errorf(CodeInvalidRequest, format, args...)
	}
	if len(line) > MaxImportLine {
		return bad("longer than %d bytes", MaxImportLine)
	}
	var raw importLine
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			return bad("not valid JSON (at byte %d)", syn.Offset)
		case errors.As(err, &typ) && typ.Field != "":
			return bad("field %s has the wrong type (email and password_hash are strings, totp_secrets a list of strings)", strconv.Quote(safeField(typ.Field)))
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return bad("not a complete JSON object")
		}
		// Unknown fields (the name is not quoted: a mangled line could put a
		// hash where a name belongs), or a value that is not an object.
		return bad("want one JSON object with only email, password_hash and totp_secrets (or totp_secret)")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return bad("text after the JSON object")
	}
	if raw.Email == nil {
		return bad("email is missing")
	}
	email, err := NewEmail(*raw.Email)
	if err != nil {
		return bad("email is not an address like name@example.com")
	}
	if raw.PasswordHash == nil || *raw.PasswordHash == "" {
		return bad("password_hash is missing")
	}
	if err := password.Check(*raw.PasswordHash); err != nil {
		return bad("password_hash: %v", err)
	}
	secrets := raw.TOTPSecrets
	if raw.TOTPSecret != nil {
		if secrets != nil {
			return bad("give totp_secrets or totp_secret, not both")
		}
		secrets = []string{*raw.TOTPSecret}
	}
	if len(secrets) > MaxImportTOTP {
		return bad("more than %d TOTP secrets", MaxImportTOTP)
	}
	u := ImportUser{Email: email, PasswordHash: *raw.PasswordHash}
	for i, s := range secrets {
		key, err := totp.DecodeSecret(s)
		if err != nil {
			return bad("TOTP secret %d is not base32 (RFC 4648)", i+1)
		}
		if len(key) < minImportSecret || len(key) > maxImportSecret {
			return bad("TOTP secret %d has %d bits: want %d to %d (RFC 4226 asks for at least 128)", i+1, 8*len(key), 8*minImportSecret, 8*maxImportSecret)
		}
		u.TOTPSecrets = append(u.TOTPSecrets, key)
	}
	return u, nil
}

// safeField shortens a JSON field path for an error message.
func safeField(f string) string {
	if len(f) > 40 {
		return f[:40]
	}
	return f
}

// ImportUsers stores a batch of parsed users in one transaction. A user whose
// email is taken (already in the database, or earlier in users) is skipped:
// imported[i] is false for it. Each imported user gets a user.registered
// event with detail {"source": "import"}; its TOTP secrets become confirmed
// authenticator apps named "Imported" (SHA-1, 6 digits, 30 s: what other
// systems' authenticator apps use), sealed as enrolled ones are, and it
// gets no backup codes. A secret listed twice for one user becomes one
// app: two apps with one secret would each accept the same code once, a
// replay. Codes up to max(skew, 1) steps after the import's own time step
// are refused, so a code the old system accepted just before (its clock
// skew allowing a step ahead) cannot be replayed here.
func (s *Service) ImportUsers(ctx context.Context, c Client, users []ImportUser) (imported []bool, err error) {
	now := s.now()
	lastStep := totp.Step(now, totp.Default) + int64(max(s.skew, 1))
	batch := make([]ImportedUser, len(users))
	for i, in := range users {
		u := User{ID: s.newID(now), Email: in.Email, PasswordHash: in.PasswordHash, CreatedAt: now}
		iu := ImportedUser{User: u, Event: Event{
			ID: s.newID(now), Time: now, Type: EventUserRegistered, UserID: u.ID,
			IP: truncate(c.IP, 64), UserAgent: truncate(c.UserAgent, 512), Detail: map[string]any{"source": "import"},
		}}
		var keys [][]byte
		for _, key := range in.TOTPSecrets {
			if !slices.ContainsFunc(keys, func(k []byte) bool { return bytes.Equal(k, key) }) {
				keys = append(keys, key)
			}
		}
		for j, key := range keys {
			a := TOTPAuthenticator{
				ID: s.newID(now), UserID: u.ID, Name: "Imported",
				Algorithm: totp.Default.Algorithm.String(), Digits: totp.Default.Digits, Period: totp.Default.Period,
				LastStep: lastStep, CreatedAt: now,
			}
			if len(keys) > 1 {
				a.Name = "Imported " + strconv.Itoa(j+1)
			}
			if a.Secret, err = s.keys.seal(key, "totp:"+a.ID); err != nil {
				return nil, s.internal(ctx, "seal imported totp secret", err)
			}
			iu.TOTP = append(iu.TOTP, a)
		}
		batch[i] = iu
	}
	imported, err = s.store.ImportUsers(ctx, batch)
	if err != nil {
		return nil, s.internal(ctx, "import users", err)
	}
	if len(imported) != len(batch) {
		return nil, s.internal(ctx, "import users", fmt.Errorf("store answered for %d users of %d", len(imported), len(batch)))
	}
	if s.onEvent != nil {
		for i, ok := range imported {
			if ok {
				s.onEvent(batch[i].Event)
			}
		}
	}
	return imported, nil
}
