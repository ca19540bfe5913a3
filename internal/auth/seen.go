package auth

import (
	"context"
	"net/netip"
	"strings"
	"time"
)

// SeenClients remembers where each user has signed in from, to tell a new
// device or network from a known one.
type SeenClients interface {
	// SeeClient records that userID signed in from a client whose kind
	// ("ip" or "ua") has this value. true when it was not recorded before;
	// one statement, so of two concurrent sign-ins only one sees it as new.
	SeeClient(ctx context.Context, userID, kind, value string, at time.Time) (bool, error)
	// SeeClients records clients of userID not recorded before, in one
	// statement (a first sign-in's network and browser).
	SeeClients(ctx context.Context, userID string, at time.Time, clients ...SeenClient) error
	// KnownClient reads, in one query, whether any client is recorded for
	// userID, and whether this network (kind "ip") and browser family (kind
	// "ua") are.
	KnownClient(ctx context.Context, userID, network, family string) (ClientSeen, error)
}

// SeenClient is one recorded client: kind "ip" (a network) or "ua" (a
// browser family), and its value.
type SeenClient struct{ Kind, Value string }

// ClientSeen is KnownClient's answer.
type ClientSeen struct {
	Any, Network, Family bool
}

// signedIn is called when a session of u becomes authenticated by a login
// (password alone, or password and second factor). It records the client's
// network and browser family and raises AlertNewSignIn when either is new
// for this user, unless it is the first sign-in ever recorded for them.
// The rule: the network is the IP address (IPv4) or its /64 prefix (IPv6,
// whose host part changes by design); the device is the browser family and
// operating system from the User-Agent (UserAgentFamily), versions ignored,
// so updates do not alert. Failures are logged; they never block a login.
func (s *Service) signedIn(ctx context.Context, c Client, u User) {
	ctx = context.WithoutCancel(ctx)
	network, fam := networkOf(c.IP), UserAgentFamily(c.UserAgent)
	// One read says what is known; only what is not is written (a known
	// client, the usual sign-in, writes nothing). SeeClient still decides
	// what is new, so of two concurrent sign-ins only one alerts.
	seen, err := s.store.KnownClient(ctx, u.ID, network, fam)
	if err != nil {
		s.log.WarnContext(ctx, "check known clients", "user_id", u.ID, "err", err)
		return
	}
	now := s.now()
	if !seen.Any {
		// The first sign-in recorded: remember it, nothing to compare with.
		clients := []SeenClient{{"ua", fam}}
		if network != "" {
			clients = append(clients, SeenClient{"ip", network})
		}
		if err := s.store.SeeClients(ctx, u.ID, now, clients...); err != nil {
			s.log.WarnContext(ctx, "record first client", "user_id", u.ID, "err", err)
		}
		return
	}
	var news []string
	if network != "" && !seen.Network {
		isNew, err := s.store.SeeClient(ctx, u.ID, "ip", network, now)
		if err != nil {
			s.log.WarnContext(ctx, "record client network", "user_id", u.ID, "err", err)
		} else if isNew {
			news = append(news, "ip")
		}
	}
	if !seen.Family {
		isNew, err := s.store.SeeClient(ctx, u.ID, "ua", fam, now)
		if err != nil {
			s.log.WarnContext(ctx, "record client browser", "user_id", u.ID, "err", err)
		} else if isNew {
			news = append(news, "device")
		}
	}
	if len(news) == 0 {
		return
	}
	what := "You signed in from a new device"
	if len(news) == 1 && news[0] == "ip" {
		what = "You signed in from a new network (IP address)"
	} else if len(news) == 2 {
		what = "You signed in from a new device and network"
	}
	s.RaiseAlert(ctx, u, c, Alert{
		Type: AlertNewSignIn, Subject: "New sign-in to your account",
		What:   what + " (" + fam + ")",
		Detail: map[string]any{"new": news, "browser": fam},
	})
}

// IPRateKey is the key per-IP limits count a client under: its IPv4
// address, or its IPv6 /64. Any IPv6 client holds a whole /64 (2^64
// addresses), so counting each address alone would let it step around
// every per-IP limit. An address that does not parse counts as itself.
func IPRateKey(ip string) string {
	if n := networkOf(ip); n != "" {
		return "ip:" + n
	}
	return "ip:" + ip
}

// networkOf is what identifies a client's network for new-sign-in alerts:
// an IPv4 address, or an IPv6 address's /64 prefix. "" when ip is not an
// address.
func networkOf(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ""
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	p, err := a.WithZone("").Prefix(64)
	if err != nil {
		return ""
	}
	return p.String()
}

// UserAgentFamily names the browser and operating system in a User-Agent
// header, e.g. "Firefox on Linux", ignoring versions. Unknown parts are
// "Other"; an empty header is "Unknown browser".
func UserAgentFamily(ua string) string {
	if strings.TrimSpace(ua) == "" {
		return "Unknown browser"
	}
	l := strings.ToLower(ua)
	has := func(s ...string) bool {
		for _, x := range s {
			if strings.Contains(l, x) {
				return true
			}
		}
		return false
	}
	browser := "Other browser"
	switch {
	case has("edg/", "edge/", "edga/", "edgios/"):
		browser = "Edge"
	case has("opr/", "opera"):
		browser = "Opera"
	case has("samsungbrowser/"):
		browser = "Samsung Internet"
	case has("firefox/", "fxios/"):
		browser = "Firefox"
	case has("chrome/", "crios/", "chromium/"):
		browser = "Chrome"
	case has("safari/") && has("version/"):
		browser = "Safari"
	case has("curl/"):
		browser = "curl"
	case has("go-http-client/"):
		browser = "Go HTTP client"
	}
	os := "other system"
	switch {
	case has("iphone", "ipad", "ipod"):
		os = "iOS"
	case has("android"):
		os = "Android"
	case has("windows"):
		os = "Windows"
	case has("mac os x", "macintosh"):
		os = "macOS"
	case has("cros"):
		os = "ChromeOS"
	case has("linux", "x11"):
		os = "Linux"
	}
	return browser + " on " + os
}
