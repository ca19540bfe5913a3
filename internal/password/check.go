package password

import (
	"errors"
	"fmt"
	"strings"
)

// Check reports whether phc is a hash Verify would run: an argon2id PHC string
// or a bcrypt hash ($2a$, $2b$, $2y$) within the bounds Verify enforces. It
// hashes nothing, so it suits checking a million imported hashes. Its error
// wraps ErrMalformed and never quotes phc.
func Check(phc string) error {
	switch {
	case strings.HasPrefix(phc, "$argon2id$"):
		if _, err := parseArgon2id(phc); err != nil {
			return fmt.Errorf("%w: %w", ErrMalformed, err)
		}
		return nil
	case isBcrypt(phc):
		if err := checkBcrypt(phc); err != nil {
			return fmt.Errorf("%w: %w", ErrMalformed, err)
		}
		return nil
	}
	return fmt.Errorf("%w: %w", ErrMalformed, errors.New("not argon2id ($argon2id$...) or bcrypt ($2a$, $2b$, $2y$)"))
}
