package server

import (
	"time"

	"github.com/twofold-auth/twofold/internal/auth"
)

// methodJSON is the Method object of SPEC §3.
type methodJSON struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	Phone      string     `json:"phone,omitempty"`
}

func toMethod(m auth.Method) methodJSON {
	out := methodJSON{ID: m.ID, Name: m.Name, CreatedAt: m.CreatedAt.UTC(), Phone: m.Phone}
	if !m.LastUsedAt.IsZero() {
		t := m.LastUsedAt.UTC()
		out.LastUsedAt = &t
	}
	return out
}

func toMethods(ms []auth.Method) []methodJSON {
	out := make([]methodJSON, 0, len(ms))
	for _, m := range ms {
		out = append(out, toMethod(m))
	}
	return out
}
