// Command bare is issue 9's reference point, not part of twofold: a server
// doing only the necessary work of a rejected TOTP check, written the
// plain way, so that twofold's figures can be set against it on the same
// machine (scripts/perf.sh runs both; docs/performance.md).
//
// Per POST /api/2fa/verify: the session read, the authenticator read, the
// code check and, for a wrong code, one transaction that counts the
// failure and records an event, on modernc SQLite in WAL mode with
// synchronous=FULL (or -synchronous NORMAL) and one writer connection. No
// prepared statements, no group commit, no log line, no lockout, no rate
// limit, no session rotation on success.
//
// POST /api/login exists only to set up pending sessions for the load
// tool: it checks no password. The users come from a `twofold-load -gen`
// file. Never run it anywhere but a load test on loopback.
//
//	go run ./scripts/bare -addr 127.0.0.1:18099 -users users.jsonl -dir /tmp/bare
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite"

	"github.com/twofold-auth/twofold/internal/totp"
)

const schema = `
CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, failed_attempts INTEGER NOT NULL DEFAULT 0);
CREATE TABLE authenticators (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id), secret TEXT NOT NULL);
CREATE INDEX authenticators_user ON authenticators(user_id);
CREATE TABLE sessions (id INTEGER PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE, user_id INTEGER NOT NULL REFERENCES users(id));
CREATE TABLE events (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, kind TEXT NOT NULL, at INTEGER NOT NULL, ip TEXT NOT NULL, user_agent TEXT NOT NULL);
CREATE INDEX events_user ON events(user_id, at);
`

type server struct{ read, write *sql.DB }

func main() {
	addr := flag.String("addr", "127.0.0.1:18099", "listen address (loopback only)")
	users := flag.String("users", "", "a `twofold-load -gen` file of users to load")
	dir := flag.String("dir", "", "an empty directory for the database")
	sync := flag.String("synchronous", "FULL", "SQLite's synchronous setting: FULL (an fsync per commit, as twofold) or NORMAL (none in WAL mode: not durable)")
	flag.Parse()
	if host, _, err := net.SplitHostPort(*addr); err != nil || (host != "127.0.0.1" && host != "localhost") {
		log.Fatalf("bare: -addr %q: loopback only", *addr)
	}
	if *users == "" || *dir == "" {
		log.Fatal("bare: -users and -dir are required")
	}
	if *sync != "FULL" && *sync != "NORMAL" {
		log.Fatalf("bare: -synchronous %q: FULL or NORMAL", *sync)
	}
	dsn := "file:" + filepath.Join(*dir, "bare.db") + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(" + *sync + ")"
	write, err := sql.Open("sqlite", dsn+"&_txlock=immediate")
	if err != nil {
		log.Fatal(err)
	}
	write.SetMaxOpenConns(1)
	if _, err := write.Exec(schema); err != nil {
		log.Fatal(err)
	}
	if err := load(write, *users); err != nil {
		log.Fatal(err)
	}
	read, err := sql.Open("sqlite", dsn+"&mode=ro")
	if err != nil {
		log.Fatal(err)
	}
	read.SetMaxOpenConns(4)
	read.SetMaxIdleConns(4)
	s := &server{read: read, write: write}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("POST /api/login", s.login)
	mux.HandleFunc("POST /api/2fa/verify", s.verify)
	log.Printf("bare: listening on %s", *addr)
	log.Fatal((&http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}).ListenAndServe())
}

// load inserts the users of a `twofold-load -gen` file, in one transaction.
func load(db *sql.DB, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var u struct {
			Email   string   `json:"email"`
			Secrets []string `json:"totp_secrets"`
		}
		if err := json.Unmarshal(sc.Bytes(), &u); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		res, err := tx.Exec("INSERT INTO users (email) VALUES (?)", u.Email)
		if err != nil {
			return err
		}
		id, _ := res.LastInsertId()
		for _, sec := range u.Secrets {
			if _, err := tx.Exec("INSERT INTO authenticators (user_id, secret) VALUES (?, ?)", id, sec); err != nil {
				return err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return tx.Commit()
}

func hashToken(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:])
}

func fail(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code}})
}

// login starts a pending session for the email, checking no password.
func (s *server) login(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Email string `json:"email"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&in); err != nil {
		fail(w, 400, "invalid_request")
		return
	}
	var userID int64
	if err := s.read.QueryRowContext(r.Context(), "SELECT id FROM users WHERE email = ?", in.Email).Scan(&userID); err != nil {
		fail(w, 401, "invalid_credentials")
		return
	}
	tok := rand.Text()
	if _, err := s.write.ExecContext(r.Context(), "INSERT INTO sessions (token_hash, user_id) VALUES (?, ?)", hashToken(tok), userID); err != nil {
		fail(w, 500, "internal")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: "twofold_session", Value: tok, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{"status":"2fa_required"}` + "\n"))
}

// verify checks a TOTP code for the pending session: the work issue 9 calls necessary.
func (s *server) verify(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ck, err := r.Cookie("twofold_session")
	if err != nil {
		fail(w, 401, "unauthenticated")
		return
	}
	var in struct {
		Code string `json:"code"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&in); err != nil {
		fail(w, 400, "invalid_request")
		return
	}
	var userID int64
	if err := s.read.QueryRowContext(ctx, "SELECT user_id FROM sessions WHERE token_hash = ?", hashToken(ck.Value)).Scan(&userID); err != nil {
		fail(w, 401, "unauthenticated")
		return
	}
	var encoded string
	if err := s.read.QueryRowContext(ctx, "SELECT secret FROM authenticators WHERE user_id = ?", userID).Scan(&encoded); err != nil {
		fail(w, 500, "internal")
		return
	}
	secret, err := totp.DecodeSecret(encoded)
	if err != nil {
		fail(w, 500, "internal")
		return
	}
	now := time.Now()
	for d := -1; d <= 1; d++ {
		if subtle.ConstantTimeCompare([]byte(totp.Code(secret, now.Add(time.Duration(d)*30*time.Second), totp.Default)), []byte(in.Code)) == 1 {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"status":"authenticated"}` + "\n"))
			return
		}
	}
	if err := s.recordFailure(ctx, userID, r); err != nil {
		fail(w, 500, "internal")
		return
	}
	fail(w, 401, "invalid_code")
}

// recordFailure counts the failure and records its event in one transaction.
func (s *server) recordFailure(ctx context.Context, userID int64, r *http.Request) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "UPDATE users SET failed_attempts = failed_attempts + 1 WHERE id = ?", userID); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO events (user_id, kind, at, ip, user_agent) VALUES (?, ?, ?, ?, ?)",
		userID, "2fa.failed", time.Now().UnixMicro(), r.RemoteAddr, r.UserAgent()); err != nil {
		return err
	}
	return tx.Commit()
}
