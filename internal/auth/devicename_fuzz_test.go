package auth

import (
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestDeviceName(t *testing.T) {
	for ua, want := range map[string]string{
		"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0":                                                                  "Firefox on Linux",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0":           "Edge on Windows",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1": "Safari on iOS",
		"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36":                   "Chrome on Android",
		"curl/8.11.0": "curl/8.11.0",
		"":            "Unknown browser",
	} {
		if got := deviceName(ua); got != want {
			t.Errorf("deviceName(%q): got %q, want %q", ua, got, want)
		}
	}
}

// FuzzDeviceName feeds arbitrary User-Agent headers (client-controlled) to
// deviceName: the name must be short, valid UTF-8, without NUL, and never empty.
func FuzzDeviceName(f *testing.F) {
	for _, s := range []string{"", "curl/8.11.0", "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0", "\xff\xfe", "a\x00b", "   "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ua string) {
		n := deviceName(ua)
		if n == "" || len(n) > 64 || !utf8.ValidString(n) {
			t.Fatalf("deviceName gave a bad name (%d bytes, valid UTF-8 %v)", len(n), utf8.ValidString(n))
		}
		for _, r := range n {
			if unicode.IsControl(r) {
				t.Fatal("deviceName kept a control character")
			}
		}
	})
}
