package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/puddle/v2"

	"github.com/twofold-auth/twofold/internal/auth"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrationLock is the key of the session-level advisory lock held while
// migrating, so instances starting at once take turns ("twofold" in ASCII).
const migrationLock int64 = 0x74776f666f6c64

// connectTimeout bounds one connection attempt when the URL sets no
// connect_timeout.
const connectTimeout = 5 * time.Second

// DB is a PostgreSQL database reached through a connection pool.
type DB struct {
	pool *pgxpool.Pool
	// where names the server and database for error messages, without secrets.
	where string
}

// Open connects to the database at url (postgres://...), with at most
// maxConns connections (the pgxpool default when maxConns <= 0), and applies
// pending migrations.
func Open(ctx context.Context, url string, maxConns int) (*DB, error) {
	db, err := OpenNoMigrate(ctx, url, maxConns)
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// OpenNoMigrate connects to the database without applying migrations. It
// fails, wrapping auth.ErrUnavailable, when the database does not answer.
func OpenNoMigrate(ctx context.Context, url string, maxConns int) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgconn's ParseConfigError redacts the password.
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	if maxConns > 0 {
		cfg.MaxConns = int32(min(maxConns, 1<<30))
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = connectTimeout
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "twofold"
	}
	where := fmt.Sprintf("%s:%d/%s", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres %s: %w", where, classify(err))
	}
	db := &DB{pool: pool, where: where}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres %s: %w", where, classify(err))
	}
	return db, nil
}

// Close closes every connection of the pool, waiting for those in use.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// Ping reports whether the database answers.
func (db *DB) Ping(ctx context.Context) error {
	var one int
	if err := db.pool.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("ping postgres %s: %w", db.where, classify(err))
	}
	return nil
}

// Migrate applies every embedded migration not yet applied, each in its own
// transaction, in version order.
func (db *DB) Migrate(ctx context.Context) error {
	return db.MigrateTo(ctx, -1)
}

// MigrateTo applies migrations up to and including version (all when < 0).
// It holds a session-level advisory lock on one connection throughout, so two
// instances migrating the same database at once take turns.
func (db *DB) MigrateTo(ctx context.Context, version int) (err error) {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", classify(err))
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrationLock); err != nil {
		return fmt.Errorf("migrate: take lock: %w", classify(err))
	}
	defer func() {
		// Unlock even when ctx is done; a connection that cannot unlock is
		// closed (which releases the lock) rather than returned to the pool.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, uerr := conn.Exec(uctx, "SELECT pg_advisory_unlock($1)", migrationLock); uerr != nil {
			conn.Conn().Close(uctx)
			if err == nil {
				err = fmt.Errorf("migrate: release lock: %w", classify(uerr))
			}
		}
	}()
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: create schema_migrations: %w", classify(err))
	}
	files, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	sort.Strings(files)
	for _, f := range files {
		name := strings.TrimPrefix(f, "migrations/")
		v, err := strconv.Atoi(strings.SplitN(name, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migrate: bad migration name %q", name)
		}
		if version >= 0 && v > version {
			break
		}
		if err := apply(ctx, conn.Conn(), v, name); err != nil {
			return err
		}
	}
	return nil
}

// apply runs one migration in a transaction unless it has run already.
func apply(ctx context.Context, conn *pgx.Conn, version int, name string) error {
	body, err := migrations.ReadFile("migrations/" + name)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", name, err)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", name, classify(err))
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var n int
	if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM schema_migrations WHERE version = $1", version).Scan(&n); err != nil {
		return fmt.Errorf("migrate %s: %w", name, classify(err))
	}
	if n > 0 {
		return nil
	}
	// No arguments: pgx sends it with the simple protocol, which allows
	// several statements.
	if _, err := tx.Exec(ctx, string(body)); err != nil {
		return fmt.Errorf("migrate %s: %w", name, classify(err))
	}
	if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
		version, name, time.Now().UnixMicro()); err != nil {
		return fmt.Errorf("migrate %s: %w", name, classify(err))
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("migrate %s: %w", name, classify(err))
	}
	return nil
}

// Version returns the highest applied migration.
func (db *DB) Version(ctx context.Context) (int, error) {
	var v int
	if err := db.pool.QueryRow(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&v); err != nil {
		return 0, fmt.Errorf("schema version: %w", classify(err))
	}
	return v, nil
}

// classify maps driver errors onto the store's sentinel errors.
// isForeignKey reports whether err is a foreign key violation: a row
// referred to is gone.
func isForeignKey(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23503"
}

func classify(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, auth.ErrNotFound) || errors.Is(err, auth.ErrDuplicate) || errors.Is(err, auth.ErrUnavailable) {
		return err // classified already
	}
	if errors.Is(err, context.Canceled) {
		// The caller gave up; that says nothing about the database.
		return err
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return auth.ErrNotFound
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return fmt.Errorf("%w: %w", auth.ErrUnavailable, err)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "23505": // unique_violation
			return fmt.Errorf("%w: %w", auth.ErrDuplicate, err)
		case strings.HasPrefix(pe.Code, "08"), // connection exception
			pe.Code == "57P01", // admin_shutdown
			pe.Code == "57P02", // crash_shutdown
			pe.Code == "57P03", // cannot_connect_now
			pe.Code == "53300": // too_many_connections
			return fmt.Errorf("%w: %w", auth.ErrUnavailable, err)
		}
		return err
	}
	var ne net.Error
	if errors.As(err, &ne) ||
		errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, puddle.ErrClosedPool) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: %w", auth.ErrUnavailable, err)
	}
	return err
}

func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicros(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}

// text makes a client-supplied string (an IP, a User-Agent) storable: a
// PostgreSQL TEXT cannot hold invalid UTF-8 or NUL, which SQLite stores as
// given, so those bytes become U+FFFD instead of failing the write.
func text(s string) string {
	if utf8.ValidString(s) && !strings.Contains(s, "\x00") {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}
