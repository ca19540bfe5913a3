package backupcode_test

import (
	"strings"
	"testing"

	"github.com/twofold-auth/twofold/internal/backupcode"
)

func FuzzNormalize(f *testing.F) {
	for _, seed := range []string{
		"", "k3f9q-2mzx8", "K3F9Q 2MZX8", "oOiIlL-uU00", "k3f9q_2mzx8\n", "ｋ3f9q-2mzx8",
		"k3f9q-2mzx88", strings.Repeat("-", 64) + "0", "\xff\xfe0000000000",
	} {
		f.Add(seed)
	}
	const alphabet = "0123456789abcdefghjkmnpqrstvwxyz"
	f.Fuzz(func(t *testing.T, input string) {
		canon, ok := backupcode.Normalize(input)
		if !ok {
			if canon != "" {
				t.Fatalf("ok = false but canonical form is non-empty (len %d)", len(canon))
			}
			return
		}
		if len(input) > 64 {
			t.Fatalf("accepted a %d-byte input, want at most 64", len(input))
		}
		if len(canon) != 10 {
			t.Fatalf("canonical form has %d bytes, want 10", len(canon))
		}
		for i := range len(canon) {
			if !strings.ContainsRune(alphabet, rune(canon[i])) {
				t.Fatalf("canonical byte %d is outside the alphabet", i)
			}
		}
		again, ok := backupcode.Normalize(canon)
		if !ok || again != canon {
			t.Fatalf("Normalize is not idempotent on its output (ok %v)", ok)
		}
		printed := canon[:5] + "-" + canon[5:]
		if again, ok := backupcode.Normalize(strings.ToUpper(printed)); !ok || again != canon {
			t.Fatalf("upper-case printed form does not normalize back (ok %v)", ok)
		}
	})
}
