package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/twofold-auth/twofold/internal/auth"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Deps are what the pages need. The session-cookie and client functions are
// the JSON API's own, so both interfaces share one cookie, one rotation rule
// and one notion of the client's address.
type Deps struct {
	Auth *auth.Service
	Log  *slog.Logger
	// Client describes the requester (IP behind trusted proxies, user agent).
	Client func(*http.Request) auth.Client
	// SessionToken reads the session cookie.
	SessionToken func(*http.Request) string
	// SetSession sets the session cookie to a new token.
	SetSession func(http.ResponseWriter, string)
	// ClearSession drops the session cookie.
	ClearSession func(http.ResponseWriter)
	// Status is the HTTP status the API answers an error with.
	Status func(error) int
	// LoginOutcome, when set, counts password logins by outcome (metrics).
	LoginOutcome func(outcome string)

	// TrustedDeviceTTL is how long "remember this device" lasts; 0 hides
	// the box (the feature is off).
	TrustedDeviceTTL time.Duration
	// DeviceToken reads the trusted-device cookie ("" when none or off).
	DeviceToken func(*http.Request) string
	// SetDevice applies what a login decided about the device cookie.
	SetDevice func(http.ResponseWriter, auth.DeviceCookie)
	// RememberDevice trusts this browser for u after a second factor and
	// sets its cookie (the API's remember_device); sessionToken is the
	// session's token after that second factor.
	RememberDevice func(w http.ResponseWriter, r *http.Request, u auth.User, sessionToken string)
}

// Pages serves the web UI.
type Pages struct {
	d      Deps
	pages  map[string]*template.Template
	assets map[string]string // file name → name?v=content hash
}

// pageNames are the templates under templates/ that are whole pages; the
// files starting with "_" are shared by all of them.
var pageNames = []string{
	"signup", "login", "twofa", "settings", "totp_setup", "backup_codes", "reauth",
	"webauthn_add", "phone_confirm",
}

// New parses the templates and fingerprints the static files.
func New(d Deps) (*Pages, error) {
	if d.Log == nil {
		d.Log = slog.Default()
	}
	p := &Pages{d: d, pages: map[string]*template.Template{}, assets: map[string]string{}}
	err := fs.WalkDir(staticFS, "static", func(name string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := staticFS.ReadFile(name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		rel := strings.TrimPrefix(name, "static/")
		p.assets[rel] = "/static/" + rel + "?v=" + hex.EncodeToString(sum[:6])
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read static files: %w", err)
	}
	funcs := template.FuncMap{
		"asset": func(name string) (string, error) {
			u, ok := p.assets[name]
			if !ok {
				return "", fmt.Errorf("no static file %q", name)
			}
			return u, nil
		},
		"date":      func(t time.Time) string { return t.UTC().Format("2 Jan 2006") },
		"datetime":  func(t time.Time) string { return t.UTC().Format("2 Jan 2006, 15:04 UTC") },
		"isoTime":   func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"groupKey":  groupKey,
		"eventText": eventText,
		"device":    device,
	}
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/_*.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parse template %s: %w", name, err)
		}
		p.pages[name] = t
	}
	return p, nil
}

// page is what every template gets.
type page struct {
	Title string
	// Email is the signed-in user's address (header) or the address typed
	// into a form.
	Email    string
	SignedIn bool
	// Error is a message for the person, announced by screen readers.
	Error string
	// Notice is a confirmation (a change was made).
	Notice string
	// Data is the page's own view.
	Data any
}

// render writes the page name with status. Pages may carry secrets (a TOTP
// key, backup codes), so none is cached.
func (p *Pages) render(w http.ResponseWriter, r *http.Request, status int, name string, v page) {
	var buf bytes.Buffer
	if err := p.pages[name].ExecuteTemplate(&buf, "_layout", v); err != nil {
		p.d.Log.ErrorContext(r.Context(), "render page", "page", name, "err", err)
		http.Error(w, "Something went wrong on our side.", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// redirect sends the browser to path with a GET (303 See Other).
func redirect(w http.ResponseWriter, r *http.Request, path string) {
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, path, http.StatusSeeOther)
}

// serveStatic serves the embedded files under /static/. Their URLs carry a
// content hash (see asset), so browsers may keep them.
func serveStatic() http.Handler {
	sub, _ := fs.Sub(staticFS, "static")
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("file")
		if name == "" || strings.HasSuffix(name, "/") || path.Clean(name) != name {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=86400")
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/" + name
		files.ServeHTTP(w, r2)
	})
}

// groupKey splits a base32 key into groups of four for reading aloud.
func groupKey(k string) string {
	var b strings.Builder
	for i, c := range k {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// device names the browser and system of a user agent ("Firefox on
// Windows"), or "unknown browser". An unrecognised user agent is never shown
// as it is: anyone who knows an email address can make a failed login put
// any text there, and a security page must not carry a stranger's words.
func device(ua string) string {
	browser := firstMatch(ua, [][2]string{
		{"Edg/", "Edge"}, {"OPR/", "Opera"}, {"Firefox/", "Firefox"}, {"FxiOS/", "Firefox"},
		{"HeadlessChrome/", "Headless Chrome"}, {"Chrome/", "Chrome"}, {"CriOS/", "Chrome"},
		{"Safari/", "Safari"}, {"curl/", "curl"},
	})
	system := firstMatch(ua, [][2]string{
		{"Windows", "Windows"}, {"iPhone", "iPhone"}, {"iPad", "iPad"}, {"Android", "Android"},
		{"Mac OS X", "macOS"}, {"CrOS", "ChromeOS"}, {"Linux", "Linux"},
	})
	switch {
	case browser != "" && system != "":
		return browser + " on " + system
	case browser != "":
		return browser
	case system != "":
		return "a browser on " + system
	}
	return "unknown browser"
}

func firstMatch(s string, table [][2]string) string {
	for _, e := range table {
		if strings.Contains(s, e[0]) {
			return e[1]
		}
	}
	return ""
}
