package seal_test

import (
	"errors"
	"testing"

	"github.com/twofold-auth/twofold/internal/seal"
)

func FuzzOpen(f *testing.F) {
	primary, secondary := detKey(f, 1), detKey(f, 2)
	ring := seal.NewRing(primary, secondary)
	unknown := detKey(f, 3)

	// Seeds reach every parsing stage: header, key id, body alphabet, body length, authentication.
	f.Add("", []byte(nil))
	f.Add("v1.", []byte("totp:1"))
	f.Add("v1."+primary.ID()+".", []byte("totp:1"))
	f.Add("v1."+primary.ID()+".AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", []byte("totp:1"))
	f.Add("v1."+secondary.ID()+".AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", []byte("totp:1"))
	f.Add("v1."+unknown.ID()+".AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", []byte(nil))
	f.Add("v1."+primary.ID()+".AAAA\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==", []byte{})
	f.Add("v2."+primary.ID()+"..", []byte("x"))
	f.Add("v1.ZZZZZZZZZZZZZZZZ.AAAA", []byte("x"))

	f.Fuzz(func(t *testing.T, sealed string, ad []byte) {
		pt, err := ring.Open(sealed, ad)
		if err == nil {
			t.Fatalf("Open of fuzzed input succeeded (%d-byte plaintext)", len(pt))
		}
		if pt != nil {
			t.Fatalf("Open returned plaintext along with error %v", err)
		}
		if !errors.Is(err, seal.ErrCorrupt) && !errors.Is(err, seal.ErrUnknownKey) {
			t.Fatalf("Open error = %v, want ErrCorrupt or ErrUnknownKey", err)
		}
		id, idErr := seal.KeyID(sealed)
		if errors.Is(err, seal.ErrUnknownKey) && (idErr != nil || id == primary.ID() || id == secondary.ID()) {
			t.Fatalf("Open reported an unknown key but KeyID = %q, %v", id, idErr)
		}
		if idErr != nil && !errors.Is(idErr, seal.ErrCorrupt) {
			t.Fatalf("KeyID error = %v, want ErrCorrupt", idErr)
		}
	})
}
