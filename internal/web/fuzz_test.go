package web

import (
	"testing"
	"unicode/utf8"
)

// FuzzDevice: a user agent is whatever a client sends; its short name must
// stay short and valid UTF-8 (it is shown in "Recent activity").
func FuzzDevice(f *testing.F) {
	f.Add("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36")
	f.Fuzz(func(t *testing.T, ua string) {
		got := device(ua)
		if utf8.ValidString(ua) && !utf8.ValidString(got) {
			t.Fatalf("device gave invalid UTF-8 for valid input")
		}
		if len(got) > 64 {
			t.Fatalf("device gave %d bytes, want at most 64", len(got))
		}
		if got == "" {
			t.Fatal("device gave an empty name")
		}
	})
}
