package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"

	"github.com/twofold-auth/twofold/internal/auth"
	"github.com/twofold-auth/twofold/internal/postgres"
	"github.com/twofold-auth/twofold/internal/seal"
	"github.com/twofold-auth/twofold/internal/sqlite"
	"github.com/twofold-auth/twofold/internal/totp"
)

// argon2idPHC hashes pw with argon2id at the given parameters, as another
// system would have.
func argon2idPHC(t *testing.T, pw string, m, tm uint32, p uint8) string {
	t.Helper()
	salt := make([]byte, 16)
	rand.Read(salt)
	key := argon2.IDKey([]byte(pw), salt, tm, m, p, 32)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", m, tm, p, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// importedStore is what the import tests read back from the database.
type importedStore interface {
	UserByEmail(ctx context.Context, email string) (auth.User, error)
	TOTPAuthenticators(ctx context.Context, userID string) ([]auth.TOTPAuthenticator, error)
	Close() error
}

func TestUserImportThenLoginSQLite(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"TWOFOLD_DATA_DIR": dir, "TWOFOLD_AUTH_RATE_LIMIT": "0", "TWOFOLD_VERIFY_RATE_LIMIT": "0"}
	testUserImportThenLogin(t, env, func() importedStore {
		db, err := sqlite.Open(context.Background(), filepath.Join(dir, "twofold.db"))
		if err != nil {
			t.Fatal(err)
		}
		return db
	}, true)
}

func TestUserImportThenLoginPostgres(t *testing.T) {
	dbURL := postgresDatabase(t)
	k, err := seal.NewKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"TWOFOLD_DATA_DIR": t.TempDir(), "TWOFOLD_DATABASE_URL": dbURL, "TWOFOLD_ENCRYPTION_KEY": k.Encode(),
		"TWOFOLD_AUTH_RATE_LIMIT": "0", "TWOFOLD_VERIFY_RATE_LIMIT": "0",
	}
	testUserImportThenLogin(t, env, func() importedStore {
		db, err := postgres.Open(context.Background(), dbURL, 2)
		if err != nil {
			t.Fatal(err)
		}
		return db
	}, false)
}

func testUserImportThenLogin(t *testing.T, env map[string]string, open func() importedStore, rotate bool) {
	// The import (at the default skew, 1) refuses codes of its own step and
	// the next; the server accepts 3 steps either side of now, so the code
	// of 2 steps ahead signs in at once, without waiting for the clock.
	serverEnv := maps.Clone(env)
	serverEnv["TWOFOLD_TOTP_SKEW"] = "3"
	srv := start(t, serverEnv)
	ctx := context.Background()
	const pw = "an imported user's password"
	secret, secret2 := make([]byte, 20), make([]byte, 32)
	rand.Read(secret)
	rand.Read(secret2)
	bcryptHash, err := bcrypt.GenerateFromPassword([]byte(pw), 5)
	if err != nil {
		t.Fatal(err)
	}
	weakArgon := argon2idPHC(t, pw, 8192, 1, 2)    // below twofold's m=19456,t=2
	strongArgon := argon2idPHC(t, pw, 32768, 3, 1) // above it
	lines := []string{
		fmt.Sprintf(`{"email":"Bcrypt@Example.com","password_hash":%q,"totp_secret":%q}`, bcryptHash, totp.EncodeSecret(secret)),
		fmt.Sprintf(`{"email":"weak@example.com","password_hash":%q,"totp_secrets":[]}`, weakArgon),
		"",
		fmt.Sprintf(`{"email":"strong@example.com","password_hash":%q}`, strongArgon),
		fmt.Sprintf(`{"email":"bcrypt@example.com","password_hash":%q}`, strongArgon), // taken by line 1
		fmt.Sprintf(`{"email":"rotate@example.com","password_hash":%q,"totp_secrets":[%q]}`, bcryptHash, strings.ToLower(totp.EncodeSecret(secret2))),
	}
	file := filepath.Join(t.TempDir(), "users.jsonl")
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := cli(t, env, "", "user", "import", "--check", file).want(t, 0, "user import --check")
	if !strings.Contains(r.Stdout, "checked 5 users") {
		t.Errorf("import --check output: %q", r.Stdout)
	}
	r = cli(t, env, "", "user", "import", file).want(t, 0, "user import")
	if !strings.Contains(r.Stdout, "imported 4 users (2 with TOTP), skipped 1") || !strings.Contains(r.Stderr, "line 5: skipped") {
		t.Errorf("import output: stdout %q stderr %q", r.Stdout, r.Stderr)
	}
	if strings.Contains(r.Stdout+r.Stderr, string(bcryptHash)) || strings.Contains(r.Stdout+r.Stderr, totp.EncodeSecret(secret)) {
		t.Errorf("import printed a hash or secret")
	}
	// Running it again imports nothing: every email is taken.
	r = cli(t, env, strings.Join(lines, "\n"), "user", "import", "--batch", "2", "-").want(t, 0, "user import again from stdin")
	if !strings.Contains(r.Stdout, "imported 0 users (0 with TOTP), skipped 5") {
		t.Errorf("second import output: %q", r.Stdout)
	}

	db := open()
	defer db.Close()
	hashOf := func(email string) string {
		u, err := db.UserByEmail(ctx, email)
		if err != nil {
			t.Fatalf("user %s: %v", email, err)
		}
		return u.PasswordHash
	}
	const ours = "$argon2id$v=19$m=19456,t=2,p=1$"

	t.Run("BcryptWithTOTPSignsInAndIsRehashed", func(t *testing.T) {
		pending, status := login(t, srv.URL, "bcrypt@example.com", pw)
		if status != "2fa_required" {
			t.Fatalf("login: got %q, want 2fa_required", status)
		}
		// The import refuses codes up to one step after its own (no replay of
		// a code the old system just accepted): two steps ahead's is accepted.
		code := totp.Code(secret, time.Now().Add(60*time.Second), totp.Default)
		if status, body := api(t, pending, "POST", srv.URL+"/api/2fa/verify", map[string]string{"method": "totp", "code": code}); status != 200 {
			t.Fatalf("verify imported TOTP: got %d %v, want 200", status, body["error"])
		}
		if h := hashOf("bcrypt@example.com"); !strings.HasPrefix(h, ours) {
			t.Errorf("bcrypt hash not re-hashed with twofold's argon2id parameters after login")
		}
		if got, _ := api(t, browser(), "POST", srv.URL+"/api/login", map[string]string{"email": "bcrypt@example.com", "password": "a wrong password here"}); got != 401 {
			t.Errorf("wrong password after the re-hash: got %d, want 401", got)
		}
	})

	t.Run("WeakerArgon2idIsRehashed", func(t *testing.T) {
		if _, status := login(t, srv.URL, "weak@example.com", pw); status != "authenticated" {
			t.Fatalf("login: got %q, want authenticated (no second factor)", status)
		}
		if h := hashOf("weak@example.com"); !strings.HasPrefix(h, ours) {
			t.Errorf("weaker argon2id hash not re-hashed after login")
		}
	})

	t.Run("StrongerArgon2idIsKept", func(t *testing.T) {
		if _, status := login(t, srv.URL, "strong@example.com", pw); status != "authenticated" {
			t.Fatalf("login: got %q, want authenticated", status)
		}
		if h := hashOf("strong@example.com"); h != strongArgon {
			t.Errorf("a stronger imported argon2id hash was replaced")
		}
	})

	if rotate {
		t.Run("KeyRotationResealsImportedSecrets", func(t *testing.T) {
			u, err := db.UserByEmail(ctx, "rotate@example.com")
			if err != nil {
				t.Fatal(err)
			}
			before, err := db.TOTPAuthenticators(ctx, u.ID)
			if err != nil || len(before) != 1 {
				t.Fatalf("authenticators: %d, %v", len(before), err)
			}
			cli(t, env, "", "keys", "rotate").want(t, 0, "keys rotate")
			after, err := db.TOTPAuthenticators(ctx, u.ID)
			if err != nil || len(after) != 1 {
				t.Fatalf("authenticators: %d, %v", len(after), err)
			}
			if after[0].Secret == before[0].Secret {
				t.Errorf("key rotation left the imported TOTP secret under the old key")
			}
			pending, status := login(t, srv.URL, "rotate@example.com", pw)
			if status != "2fa_required" {
				t.Fatalf("login: got %q, want 2fa_required", status)
			}
			code := totp.Code(secret2, time.Now().Add(60*time.Second), totp.Default)
			if got, _ := api(t, pending, "POST", srv.URL+"/api/2fa/verify", map[string]string{"method": "totp", "code": code}); got != 200 {
				t.Errorf("imported TOTP secret does not verify after key rotation")
			}
		})
	}
}

func TestUserImportBadLines(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"TWOFOLD_DATA_DIR": dir}
	start(t, env) // makes the database and its key
	bcryptHash, err := bcrypt.GenerateFromPassword([]byte("whatever password"), 4)
	if err != nil {
		t.Fatal(err)
	}
	const secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP" // 160 bits
	good := func(n int) string {
		return fmt.Sprintf(`{"email":"u%d@example.com","password_hash":%q,"totp_secrets":[%q]}`, n, bcryptHash, secret)
	}
	cases := []struct {
		name, line, want string
	}{
		{"NotJSON", `{"email": "x@example.com",`, "not"},
		{"UnknownField", fmt.Sprintf(`{"email":"x@example.com","password_hash":%q,"pasword":"x"}`, bcryptHash), "only email, password_hash"},
		{"MissingEmail", fmt.Sprintf(`{"password_hash":%q}`, bcryptHash), "email is missing"},
		{"BadEmail", fmt.Sprintf(`{"email":"not an email","password_hash":%q}`, bcryptHash), "email is not an address"},
		{"MissingHash", `{"email":"x@example.com"}`, "password_hash is missing"},
		{"UnknownHashScheme", `{"email":"x@example.com","password_hash":"$pbkdf2-sha256$29000$c2FsdA$aGFzaA"}`, "not argon2id"},
		{"BcryptCostTooLow", `{"email":"x@example.com","password_hash":"$2b$03$` + strings.Repeat("a", 53) + `"}`, "cost 3"},
		{"Argon2idOutOfBounds", `{"email":"x@example.com","password_hash":"$argon2id$v=19$m=4,t=1,p=1$c2FsdHNhbHRzYWx0$` + strings.Repeat("A", 43) + `"}`, "memory"},
		{"SecretNotBase32", fmt.Sprintf(`{"email":"x@example.com","password_hash":%q,"totp_secret":"not base32!"}`, bcryptHash), "TOTP secret 1 is not base32"},
		{"SecretTooShort", fmt.Sprintf(`{"email":"x@example.com","password_hash":%q,"totp_secret":"JBSWY3DPEHPK3PXP"}`, bcryptHash), "80 bits"},
		{"BothSecretFields", fmt.Sprintf(`{"email":"x@example.com","password_hash":%q,"totp_secret":%q,"totp_secrets":[]}`, bcryptHash, secret), "not both"},
		{"WrongType", `{"email":7}`, "wrong type"},
		{"TrailingText", fmt.Sprintf(`{"email":"x@example.com","password_hash":%q} {}`, bcryptHash), "text after"},
		{"TooLong", `{"email":"` + strings.Repeat("a", auth.MaxImportLine) + `"}`, "longer than"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// Lines 1 and 2 good, line 3 bad, line 4 good.
			in := strings.Join([]string{good(10 * i), good(10*i + 1), c.line, good(10*i + 2)}, "\n")
			r := cli(t, env, in, "user", "import", "--check", "-").want(t, 1, "user import --check")
			if !strings.Contains(r.Stderr, "line 3: ") || !strings.Contains(r.Stderr, c.want) {
				t.Errorf("--check stderr %q: want line 3 and %q", r.Stderr, c.want)
			}
			r = cli(t, env, in, "user", "import", "-").want(t, 1, "user import")
			if !strings.Contains(r.Stderr, "line 3: ") || !strings.Contains(r.Stderr, c.want) {
				t.Errorf("import stderr %q: want line 3 and %q", r.Stderr, c.want)
			}
			if strings.Contains(r.Stdout+r.Stderr, string(bcryptHash)) || strings.Contains(r.Stdout+r.Stderr, secret[:16]) {
				t.Errorf("the error quoted a hash or secret")
			}
			if !strings.Contains(r.Stdout, "imported 2 users") {
				t.Errorf("lines before the bad one: stdout %q, want 2 imported", r.Stdout)
			}
			list := cli(t, env, "", "user", "list").want(t, 0, "user list").Stdout
			for n, want := range map[int]bool{10 * i: true, 10*i + 1: true, 10*i + 2: false} {
				if got := strings.Contains(list, fmt.Sprintf(" u%d@example.com ", n)); got != want {
					t.Errorf("u%d imported: %v, want %v", n, got, want)
				}
			}
		})
	}
	for _, args := range [][]string{{"user", "import"}, {"user", "import", "a", "b"}, {"user", "import", "--batch", "0", "-"}} {
		cli(t, env, "", args...).want(t, 2, strings.Join(args, " "))
	}
	cli(t, env, "", "user", "import", filepath.Join(dir, "no-such-file")).want(t, 1, "user import of a missing file")
}
