package web

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestColoursHaveEnoughContrast reads the colour variables of app.css, in
// both schemes, and checks WCAG 2 contrast: 4.5:1 for text, 3:1 for focus
// rings and field borders.
func TestColoursHaveEnoughContrast(t *testing.T) {
	b, err := staticFS.ReadFile("static/app.css")
	if err != nil {
		t.Fatal(err)
	}
	light, dark, ok := strings.Cut(string(b), "@media (prefers-color-scheme: dark)")
	if !ok {
		t.Fatal("app.css has no dark scheme")
	}
	dark, _, _ = strings.Cut(dark, "\n}\n")
	schemes := map[string]map[string]string{"light": colours(light), "dark": colours(light)}
	for k, v := range colours(dark) {
		schemes["dark"][k] = v
	}
	pairs := []struct {
		fg, bg string
		min    float64
	}{
		{"text", "card", 4.5}, {"text", "bg", 4.5}, {"text", "field", 4.5},
		{"muted", "card", 4.5}, {"muted", "bg", 4.5},
		{"primary", "card", 4.5}, {"primary", "bg", 4.5},
		{"on-primary", "primary", 4.5}, {"on-primary", "primary-hover", 4.5},
		{"err-text", "err-bg", 4.5}, {"err-text", "card", 4.5},
		{"ok-text", "ok-bg", 4.5}, {"warn-text", "warn-bg", 4.5},
		{"badge-on", "card", 4.5}, {"badge-off", "card", 4.5},
		{"focus", "card", 3}, {"focus", "bg", 3}, {"field-line", "field", 3}, {"field-line", "card", 3},
	}
	for name, c := range schemes {
		for _, p := range pairs {
			fg, bg := c[p.fg], c[p.bg]
			if fg == "" || bg == "" {
				t.Fatalf("%s: --%s or --%s is not a #rrggbb colour", name, p.fg, p.bg)
			}
			if r := contrast(fg, bg); r < p.min {
				t.Errorf("%s: --%s on --%s is %.2f:1, want at least %.1f:1", name, p.fg, p.bg, r, p.min)
			}
		}
	}
}

var colourVar = regexp.MustCompile(`--([\w-]+):\s*(#[0-9a-fA-F]{6})\b`)

func colours(css string) map[string]string {
	m := map[string]string{}
	for _, v := range colourVar.FindAllStringSubmatch(css, -1) {
		m[v[1]] = v[2]
	}
	return m
}

func contrast(a, b string) float64 {
	la, lb := luminance(a), luminance(b)
	return (math.Max(la, lb) + 0.05) / (math.Min(la, lb) + 0.05)
}

func luminance(hex string) float64 {
	var c [3]float64
	for i := range c {
		v, _ := strconv.ParseUint(hex[1+2*i:3+2*i], 16, 8)
		x := float64(v) / 255
		if x <= 0.03928 {
			c[i] = x / 12.92
		} else {
			c[i] = math.Pow((x+0.055)/1.055, 2.4)
		}
	}
	return 0.2126*c[0] + 0.7152*c[1] + 0.0722*c[2]
}
