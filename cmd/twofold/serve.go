package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/twofold-auth/twofold/internal/auth"
	"github.com/twofold-auth/twofold/internal/config"
	"github.com/twofold-auth/twofold/internal/password"
	"github.com/twofold-auth/twofold/internal/postgres"
	"github.com/twofold-auth/twofold/internal/seal"
	"github.com/twofold-auth/twofold/internal/server"
	"github.com/twofold-auth/twofold/internal/sqlite"
)

// loadConfig parses settings, turning a bad one into a usage error (exit 2).
func loadConfig(name string, args []string, getenv func(string) string, stderr io.Writer) (config.Config, error) {
	cfg, err := config.Parse(name, args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return cfg, errHelp
	}
	if err != nil {
		return cfg, usageError{err.Error()}
	}
	return cfg, nil
}

func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}

// database is a store with the lifecycle the commands need.
type database interface {
	auth.Store
	Version(ctx context.Context) (int, error)
	Close() error
}

// openStore opens the configured database (creating the data dir for
// SQLite) and applies pending migrations.
func openStore(ctx context.Context, cfg config.Config) (database, error) {
	// The data dir also holds a generated key and the outbox, whatever the database.
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	if cfg.Database == "postgres" {
		db, err := postgres.Open(ctx, cfg.DatabaseURL, cfg.DBMaxConns)
		if err != nil {
			return nil, err
		}
		return db, nil
	}
	db, err := sqlite.Open(ctx, cfg.SQLitePath)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	return db, nil
}

// loadKeys returns the encryption keys: configured, or generated once into
// the data dir. For a key file it also returns a reload function, so a
// running server picks up a key that `twofold keys rotate` added.
func loadKeys(cfg config.Config, log *slog.Logger) (*seal.Ring, func() (*seal.Ring, error), error) {
	if keys := cfg.EncryptionKeys; len(keys) > 0 {
		return seal.NewRing(keys[0], keys[1:]...), nil, nil
	}
	keys, created, err := seal.LoadOrCreateKeyFile(cfg.KeyFile(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("load encryption key: %w", err)
	}
	if created {
		log.Warn("generated a new encryption key; back it up, or set TWOFOLD_ENCRYPTION_KEY", "path", cfg.KeyFile())
	}
	if cfg.Database == "postgres" {
		log.Warn("using the key file in the data dir with PostgreSQL: every instance must share one key, so set TWOFOLD_ENCRYPTION_KEY", "path", cfg.KeyFile())
	}
	reload := func() (*seal.Ring, error) {
		keys, _, err := seal.LoadOrCreateKeyFile(cfg.KeyFile(), rand.Reader)
		if err != nil {
			return nil, err
		}
		return seal.NewRing(keys[0], keys[1:]...), nil
	}
	return seal.NewRing(keys[0], keys[1:]...), reload, nil
}

// newService builds the auth service from the settings; m may be nil (no metrics).
func newService(cfg config.Config, db auth.Store, log *slog.Logger, m *server.Metrics) (*auth.Service, error) {
	ring, reload, err := loadKeys(cfg, log)
	if err != nil {
		return nil, err
	}
	return newServiceWithKeys(cfg, db, log, m, ring, reload)
}

// newServiceWithKeys is newService with the keys given.
func newServiceWithKeys(cfg config.Config, db auth.Store, log *slog.Logger, m *server.Metrics, ring *seal.Ring, reload func() (*seal.Ring, error)) (*auth.Service, error) {
	ch, err := channels(cfg)
	if err != nil {
		return nil, err
	}
	var onEvent func(auth.Event)
	var onDelivery func(channel, outcome string)
	if m != nil {
		onEvent, onDelivery = m.Event, m.Delivery
	}
	return auth.New(db, auth.Options{
		Hasher:             password.New(password.DefaultParams, 0),
		Logger:             log,
		RegistrationClosed: cfg.RegistrationClosed,
		AuthRate:           cfg.AuthRateLimit,
		VerifyRate:         cfg.VerifyRateLimit,
		OnEvent:            onEvent,
		Keys:               ring,
		ReloadKeys:         reload,
		Notifier:           ch,
		Webhook:            ch.Webhook != nil,
		OnDelivery:         onDelivery,
		PublicURL:          cfg.Origin(),
		Issuer:             cfg.Issuer,
		TOTPSkew:           cfg.TOTPSkew,
		LockoutThreshold:   cfg.LockoutThreshold,
		LockoutDuration:    cfg.LockoutDuration,
	})
}

func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := loadConfig("serve", args, getenv, stderr)
	if err != nil {
		return err
	}
	log := newLogger(stderr, cfg.LogLevel)
	tuneGC()
	db, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	defer startProfile(getenv)()

	reg := prometheus.NewRegistry()
	metrics := server.NewMetrics(reg)
	svc, err := newService(cfg, db, log, metrics)
	if err != nil {
		return err
	}
	if err := svc.CheckKeys(ctx); err != nil {
		return err
	}
	if cfg.AdminToken != "" && len(cfg.AdminToken) < 32 {
		log.Warn("TWOFOLD_ADMIN_TOKEN is short: use at least 32 random characters (openssl rand -base64 32)")
	}
	handler := server.New(server.Deps{
		Auth: svc, Logger: log, Metrics: metrics, Gatherer: reg,
		Origin: cfg.Origin(), Secure: cfg.Secure(),
		AdminToken: cfg.AdminToken, TrustedDeviceTTL: cfg.TrustedDeviceTTL,
		TrustedProxies: cfg.TrustedProxies,
	})

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("listening", "addr", ln.Addr().String(), "public_url", cfg.Origin(), "database", cfg.Database)

	go sweepSessions(ctx, svc, log)
	waitDeliveries := startDeliveries(ctx, svc, log)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		log.Warn("shutdown", "err", err)
	}
	waitDeliveries()
	log.Info("stopped")
	return nil
}

// sweepSessions deletes expired sessions now and then.
func sweepSessions(ctx context.Context, svc *auth.Service, log *slog.Logger) {
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := svc.SweepSessions(ctx); err != nil {
				log.Warn("sweep sessions", "err", err)
			} else if n > 0 {
				log.Debug("swept sessions", "deleted", n)
			}
			if n, err := svc.SweepDevices(ctx); err != nil {
				log.Warn("sweep trusted devices", "err", err)
			} else if n > 0 {
				log.Debug("swept trusted devices", "deleted", n)
			}
		}
	}
}

func migrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := loadConfig("migrate", args, getenv, stderr)
	if err != nil {
		return err
	}
	db, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	v, err := db.Version(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "database is at schema version %d\n", v)
	return nil
}
