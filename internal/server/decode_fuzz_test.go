package server

import (
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/twofold-auth/twofold/internal/auth"
)

// FuzzDecode feeds arbitrary bodies to the request decoder: it must never
// panic, and every refusal must be a clean invalid_request.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		``, `{}`, `{"email":"a@example.com","password":"12345678"}`, `{"email":1}`, `[]`, `null`,
		`{"a":{"b":[1,2,{"c":"\u0000"}]}}`, `{"email":"\ud800"}`, `{} {}`, `{"code":"123456","remember_device":true}`,
		"{\"password\":\"p\xe4ssw\xf6rd\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var in struct {
			Email          string `json:"email"`
			Password       string `json:"password"`
			Code           string `json:"code"`
			RememberDevice bool   `json:"remember_device"`
		}
		err := decodeBytes(data, &in)
		if err == nil {
			if !utf8.Valid(data) {
				t.Fatalf("a body that is not UTF-8 was accepted: two such passwords could decode alike")
			}
			return
		}
		var e *auth.Error
		if !errors.As(err, &e) || e.Code != auth.CodeInvalidRequest || e.Message == "" {
			t.Fatalf("decode error is not a clean invalid_request: %v", err)
		}
	})
}
