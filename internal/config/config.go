// Package config reads twofold's settings from flags and environment
// variables (a flag wins) and validates each once, at start-up.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/twofold-auth/twofold/internal/ratelimit"
	"github.com/twofold-auth/twofold/internal/seal"
)

// Config holds every setting of SPEC §1, parsed.
type Config struct {
	Addr        string
	DataDir     string
	DatabaseURL string
	// Database is "sqlite" or "postgres"; SQLitePath is set for sqlite.
	Database   string
	SQLitePath string
	PublicURL  *url.URL
	Issuer     string
	// EncryptionKeys is empty when the key is to be generated into the data
	// dir; otherwise the first key seals and all of them open.
	EncryptionKeys     []seal.Key
	AdminToken         string
	RegistrationClosed bool
	TOTPSkew           int
	LockoutThreshold   int
	LockoutDuration    time.Duration
	VerifyRateLimit    ratelimit.Rate
	AuthRateLimit      ratelimit.Rate
	TrustedDeviceTTL   time.Duration
	SMSProvider        string
	TwilioAccountSID   string
	TwilioAuthToken    string
	TwilioFrom         string
	TwilioAPIURL       string
	SMTPURL            *url.URL
	SMTPFrom           string
	WebhookURL         string
	WebhookSecret      string
	LogLevel           slog.Level
	DBMaxConns         int
	// TrustedProxies are the load balancers whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
}

// Error is a bad setting; its message names the setting.
type Error struct {
	Env, Flag string
	Reason    string
}

func (e *Error) Error() string {
	return fmt.Sprintf("invalid setting %s (--%s): %s", e.Env, e.Flag, e.Reason)
}

// setting is one row of the settings table.
type setting struct {
	flag, env, def, usage string
	// parse validates the raw value and stores it in c.
	parse func(c *Config, v string) error
}

var settings = []setting{
	{"addr", "TWOFOLD_ADDR", "localhost:8080", "listen address", func(c *Config, v string) error {
		if _, _, err := net.SplitHostPort(v); err != nil {
			return errors.New("must be host:port, e.g. localhost:8080")
		}
		c.Addr = v
		return nil
	}},
	{"data-dir", "TWOFOLD_DATA_DIR", "./data", "directory for the SQLite file, generated key and outbox", func(c *Config, v string) error {
		if v == "" {
			return errors.New("must not be empty")
		}
		c.DataDir = v
		return nil
	}},
	{"database-url", "TWOFOLD_DATABASE_URL", "", "sqlite:PATH or postgres://... (default: sqlite in the data dir)", parseDatabaseURL},
	{"public-url", "TWOFOLD_PUBLIC_URL", "http://localhost:8080", "origin users see (WebAuthn RP ID and origin)", func(c *Config, v string) error {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
			return errors.New("must be an http or https origin such as https://auth.example.com (no path)")
		}
		u.Path = ""
		c.PublicURL = u
		return nil
	}},
	{"issuer", "TWOFOLD_ISSUER", "twofold", "TOTP issuer and WebAuthn RP name", func(c *Config, v string) error {
		v = strings.TrimSpace(v)
		if v == "" || len(v) > 64 || strings.ContainsAny(v, ":\r\n\x00") {
			return errors.New("must be 1..64 characters without ':' or control characters")
		}
		c.Issuer = v
		return nil
	}},
	{"encryption-key", "TWOFOLD_ENCRYPTION_KEY", "", "base64 of 32 bytes (several comma-separated while rotating: the first seals); default: generated into the data dir", func(c *Config, v string) error {
		if v == "" {
			return nil
		}
		for _, part := range strings.Split(v, ",") {
			k, err := seal.ParseKey(strings.TrimSpace(part))
			if err != nil {
				return errors.New("must be base64 of exactly 32 bytes (openssl rand -base64 32)")
			}
			c.EncryptionKeys = append(c.EncryptionKeys, k)
		}
		return nil
	}},
	{"admin-token", "TWOFOLD_ADMIN_TOKEN", "", "bearer token for /api/admin (unset: admin API off)", func(c *Config, v string) error {
		if strings.ContainsAny(v, " \t\r\n") {
			return errors.New("must not contain whitespace")
		}
		c.AdminToken = v
		return nil
	}},
	{"registration", "TWOFOLD_REGISTRATION", "open", "open or closed", func(c *Config, v string) error {
		switch v {
		case "open":
		case "closed":
			c.RegistrationClosed = true
		default:
			return errors.New(`must be "open" or "closed"`)
		}
		return nil
	}},
	{"totp-skew", "TWOFOLD_TOTP_SKEW", "1", "accepted TOTP steps either side of now (0..10)", func(c *Config, v string) (err error) {
		c.TOTPSkew, err = intIn(v, 0, 10)
		return err
	}},
	{"lockout-threshold", "TWOFOLD_LOCKOUT_THRESHOLD", "5", "consecutive failed second-factor attempts before lockout (1..100)", func(c *Config, v string) (err error) {
		c.LockoutThreshold, err = intIn(v, 1, 100)
		return err
	}},
	{"lockout-duration", "TWOFOLD_LOCKOUT_DURATION", "15m", "how long the first lockout lasts (doubling after, capped at 24h)", func(c *Config, v string) (err error) {
		c.LockoutDuration, err = durationIn(v, time.Second, 24*time.Hour)
		return err
	}},
	{"verify-rate-limit", "TWOFOLD_VERIFY_RATE_LIMIT", "5/m", "per-IP limit on second-factor attempts (N/s, N/m, N/h; 0 = off)", func(c *Config, v string) (err error) {
		c.VerifyRateLimit, err = ratelimit.ParseRate(v)
		return err
	}},
	{"auth-rate-limit", "TWOFOLD_AUTH_RATE_LIMIT", "100/h", "per-IP limit on login, register and code sends (N/s, N/m, N/h; 0 = off)", func(c *Config, v string) (err error) {
		c.AuthRateLimit, err = ratelimit.ParseRate(v)
		return err
	}},
	{"trusted-device-ttl", "TWOFOLD_TRUSTED_DEVICE_TTL", "720h", `"remember this device" lifetime (0 = off)`, func(c *Config, v string) (err error) {
		c.TrustedDeviceTTL, err = durationIn(v, 0, 10*365*24*time.Hour)
		if err == nil && c.TrustedDeviceTTL > 0 && c.TrustedDeviceTTL < time.Minute {
			err = errors.New("must be 0 (off) or at least 1m")
		}
		return err
	}},
	{"sms-provider", "TWOFOLD_SMS_PROVIDER", "outbox", "outbox or twilio", func(c *Config, v string) error {
		if v != "outbox" && v != "twilio" {
			return errors.New(`must be "outbox" or "twilio"`)
		}
		c.SMSProvider = v
		return nil
	}},
	{"twilio-account-sid", "TWOFOLD_TWILIO_ACCOUNT_SID", "", "Twilio account SID", func(c *Config, v string) error { c.TwilioAccountSID = v; return nil }},
	{"twilio-auth-token", "TWOFOLD_TWILIO_AUTH_TOKEN", "", "Twilio auth token", func(c *Config, v string) error { c.TwilioAuthToken = v; return nil }},
	{"twilio-from", "TWOFOLD_TWILIO_FROM", "", "Twilio sender number (E.164)", func(c *Config, v string) error { c.TwilioFrom = v; return nil }},
	{"twilio-api-url", "TWOFOLD_TWILIO_API_URL", "https://api.twilio.com", "base URL of the Twilio-compatible API", func(c *Config, v string) error {
		if _, err := httpURL(v); err != nil {
			return err
		}
		c.TwilioAPIURL = strings.TrimRight(v, "/")
		return nil
	}},
	{"smtp-url", "TWOFOLD_SMTP_URL", "", "smtp://[user:pass@]host:port (STARTTLS when offered) or smtps://; unset: outbox", func(c *Config, v string) error {
		if v == "" {
			return nil
		}
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Hostname() == "" {
			return errors.New("must be smtp://[user:pass@]host:port or smtps://[user:pass@]host:port")
		}
		c.SMTPURL = u
		return nil
	}},
	{"smtp-from", "TWOFOLD_SMTP_FROM", "twofold@localhost", "sender address of emails", func(c *Config, v string) error {
		a, err := mail.ParseAddress(v)
		if err != nil {
			return errors.New("must be an email address")
		}
		c.SMTPFrom = a.String()
		return nil
	}},
	{"webhook-url", "TWOFOLD_WEBHOOK_URL", "", "URL that security alerts are POSTed to", func(c *Config, v string) error {
		if v == "" {
			return nil
		}
		if _, err := httpURL(v); err != nil {
			return err
		}
		c.WebhookURL = v
		return nil
	}},
	{"webhook-secret", "TWOFOLD_WEBHOOK_SECRET", "", "HMAC-SHA256 key that signs webhook deliveries", func(c *Config, v string) error { c.WebhookSecret = v; return nil }},
	{"log-level", "TWOFOLD_LOG_LEVEL", "info", "debug, info, warn or error", func(c *Config, v string) error {
		return c.LogLevel.UnmarshalText([]byte(v))
	}},
	{"trusted-proxies", "TWOFOLD_TRUSTED_PROXIES", "", "comma-separated IPs or CIDRs of load balancers whose X-Forwarded-For gives the client IP", func(c *Config, v string) (err error) {
		c.TrustedProxies, err = parsePrefixes(v)
		return err
	}},
	{"db-max-conns", "TWOFOLD_DB_MAX_CONNS", "10", "PostgreSQL connection pool size per instance", func(c *Config, v string) (err error) {
		c.DBMaxConns, err = intIn(v, 1, 1000)
		return err
	}},
}

// secret names the settings whose values may hold a password, token or key:
// their environment values are never printed (not even as a flag's default
// in --help or a usage error).
var secret = map[string]bool{
	"database-url": true, "encryption-key": true, "admin-token": true,
	"twilio-auth-token": true, "smtp-url": true, "webhook-secret": true,
}

// Parse reads settings from args (flags of `twofold serve`) and getenv.
// Usage and flag errors go to usage. A bad value returns *Error.
func Parse(name string, args []string, getenv func(string) string, usage io.Writer) (Config, error) {
	c, rest, err := ParseCommand(name, args, getenv, usage, nil)
	if err == nil && len(rest) > 0 {
		return Config{}, fmt.Errorf("unexpected argument %q", rest[0])
	}
	return c, err
}

// ParseCommand is Parse for a command with flags and arguments of its own
// besides the settings: extra, when not nil, registers its flags on the
// same flag set, and the arguments that are not flags are returned, in
// order (flags may come before or after them).
func ParseCommand(name string, args []string, getenv func(string) string, usage io.Writer, extra func(*flag.FlagSet)) (Config, []string, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(usage)
	if extra != nil {
		extra(fs)
	}
	raw := make([]string, len(settings))
	for i, s := range settings {
		def := s.def
		if v, ok := lookup(getenv, s.env); ok && !secret[s.flag] {
			def = v
		}
		fs.StringVar(&raw[i], s.flag, def, s.usage+" ($"+s.env+")")
	}
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return Config{}, nil, err
		}
		if fs.NArg() == 0 {
			break
		}
		if len(args) > fs.NArg() && args[len(args)-fs.NArg()-1] == "--" {
			rest = append(rest, fs.Args()...) // everything after "--" is an argument
			break
		}
		rest, args = append(rest, fs.Arg(0)), fs.Args()[1:]
	}
	// A secret's environment value is read only now, so that it never shows
	// as a flag's default in usage text.
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for i, s := range settings {
		if v, ok := lookup(getenv, s.env); ok && secret[s.flag] && !given[s.flag] {
			raw[i] = v
		}
	}
	var c Config
	for i, s := range settings {
		if err := s.parse(&c, raw[i]); err != nil {
			return Config{}, nil, &Error{Env: s.env, Flag: s.flag, Reason: err.Error()}
		}
	}
	if c.Database == "" {
		c.Database, c.SQLitePath = "sqlite", filepath.Join(c.DataDir, "twofold.db")
	}
	if c.SMSProvider == "twilio" && (c.TwilioAccountSID == "" || c.TwilioAuthToken == "" || c.TwilioFrom == "") {
		return Config{}, nil, &Error{Env: "TWOFOLD_SMS_PROVIDER", Flag: "sms-provider",
			Reason: "twilio needs TWOFOLD_TWILIO_ACCOUNT_SID, TWOFOLD_TWILIO_AUTH_TOKEN and TWOFOLD_TWILIO_FROM"}
	}
	if c.WebhookURL != "" && c.WebhookSecret == "" {
		return Config{}, nil, &Error{Env: "TWOFOLD_WEBHOOK_SECRET", Flag: "webhook-secret", Reason: "is required when TWOFOLD_WEBHOOK_URL is set"}
	}
	return c, rest, nil
}

// Secure reports whether cookies get the Secure attribute (public URL is https).
func (c Config) Secure() bool { return c.PublicURL.Scheme == "https" }

// Origin is the public URL's origin, e.g. https://auth.example.com.
func (c Config) Origin() string { return c.PublicURL.Scheme + "://" + c.PublicURL.Host }

// KeyFile is where a generated encryption key is kept.
func (c Config) KeyFile() string { return filepath.Join(c.DataDir, "encryption.key") }

// OutboxFile is the dev outbox.
func (c Config) OutboxFile() string { return filepath.Join(c.DataDir, "outbox.jsonl") }

func lookup(getenv func(string) string, key string) (string, bool) {
	v := getenv(key)
	return v, v != ""
}

func parseDatabaseURL(c *Config, v string) error {
	switch {
	case v == "":
		return nil
	case strings.HasPrefix(v, "sqlite:"):
		p := strings.TrimPrefix(strings.TrimPrefix(v, "sqlite:"), "//")
		if p == "" || strings.ContainsAny(p, "?#") {
			return errors.New("sqlite: needs a file path without '?' or '#', e.g. sqlite:/var/lib/twofold/twofold.db")
		}
		c.Database, c.SQLitePath = "sqlite", p
	case strings.HasPrefix(v, "postgres://"), strings.HasPrefix(v, "postgresql://"):
		if _, err := url.Parse(v); err != nil {
			return errors.New("not a valid postgres:// URL")
		}
		c.Database = "postgres"
	default:
		return errors.New("must be sqlite:PATH or a postgres:// URL")
	}
	c.DatabaseURL = v
	return nil
}

// parsePrefixes reads "10.0.0.0/8, 192.0.2.1" into prefixes (a bare IP is
// a one-address prefix).
func parsePrefixes(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not an IP address or CIDR prefix", f)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

func intIn(v string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("must be a whole number from %d to %d", lo, hi)
	}
	return n, nil
}

func durationIn(v string, lo, hi time.Duration) (time.Duration, error) {
	if v == "0" && lo == 0 {
		return 0, nil
	}
	d, err := time.ParseDuration(strings.TrimSpace(v))
	if err != nil || d < lo || d > hi {
		return 0, fmt.Errorf("must be a duration such as 15m or 720h, from %s to %s", lo, hi)
	}
	return d, nil
}

func httpURL(v string) (*url.URL, error) {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("must be an http:// or https:// URL")
	}
	return u, nil
}
