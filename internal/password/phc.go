package password

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// maxPHCLen bounds a stored hash's length before it is split or decoded: a header plus
// maxSaltLen and maxKeyLen bytes in base64 fit comfortably.
const maxPHCLen = 64 + 2*(maxSaltLen*4/3+4)

// b64 is the PHC strings' base64: standard alphabet, no padding.
var b64 = base64.RawStdEncoding.Strict()

// argon2Hash is a parsed argon2id PHC string.
type argon2Hash struct {
	params    Params
	salt, key []byte
}

// encodeArgon2id formats an argon2id PHC string.
func encodeArgon2id(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s",
		p.MemoryKiB, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// parseArgon2id parses $argon2id$v=19$m=M,t=T,p=P$<salt>$<key> and checks its
// parameters are within bounds. Other argon2 variants, versions and optional
// parameters (keyid, data) are refused.
func parseArgon2id(phc string) (argon2Hash, error) {
	if len(phc) > maxPHCLen {
		return argon2Hash{}, fmt.Errorf("argon2id: longer than %d bytes", maxPHCLen)
	}
	f := strings.Split(phc, "$")
	if len(f) != 6 || f[0] != "" || f[1] != "argon2id" {
		return argon2Hash{}, errors.New("argon2id: want $argon2id$v=19$m=M,t=T,p=P$salt$hash")
	}
	if f[2] != "v=19" {
		return argon2Hash{}, errors.New("argon2id: version is not v=19")
	}
	kv := strings.Split(f[3], ",")
	if len(kv) != 3 {
		return argon2Hash{}, errors.New("argon2id: want parameters m=M,t=T,p=P")
	}
	var p Params
	var err error
	if p.MemoryKiB, err = parseParam(kv[0], "m=", 32); err != nil {
		return argon2Hash{}, err
	}
	if p.Time, err = parseParam(kv[1], "t=", 32); err != nil {
		return argon2Hash{}, err
	}
	n, err := parseParam(kv[2], "p=", 8)
	if err != nil {
		return argon2Hash{}, err
	}
	p.Threads = uint8(n)

	salt, err := decodeB64(f[4])
	if err != nil {
		return argon2Hash{}, fmt.Errorf("argon2id: salt: %w", err)
	}
	key, err := decodeB64(f[5])
	if err != nil {
		return argon2Hash{}, fmt.Errorf("argon2id: hash: %w", err)
	}
	p.SaltLen, p.KeyLen = len(salt), uint32(len(key))
	if err := p.check(); err != nil {
		return argon2Hash{}, fmt.Errorf("argon2id: %w", err)
	}
	return argon2Hash{params: p, salt: salt, key: key}, nil
}

// parseParam parses "<prefix><decimal>" into an unsigned integer of bitSize bits.
func parseParam(s, prefix string, bitSize int) (uint32, error) {
	v, ok := strings.CutPrefix(s, prefix)
	if !ok || v == "" {
		return 0, fmt.Errorf("argon2id: want parameter %sN", prefix)
	}
	n, err := strconv.ParseUint(v, 10, bitSize)
	if err != nil {
		return 0, fmt.Errorf("argon2id: parameter %s: not a small decimal number", prefix[:1])
	}
	return uint32(n), nil
}

// decodeB64 decodes unpadded standard base64, refusing the line breaks the
// decoder would otherwise skip.
func decodeB64(s string) ([]byte, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, errors.New("line break in base64")
	}
	b, err := b64.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("decoding base64: %w", err)
	}
	return b, nil
}

// maxBcryptCost bounds the cost of a stored bcrypt hash: 2^16 rounds take seconds;
// the format allows 2^31, which would take days.
const maxBcryptCost = 16

// isBcrypt reports whether phc has a bcrypt prefix Verify accepts.
func isBcrypt(phc string) bool {
	return strings.HasPrefix(phc, "$2a$") || strings.HasPrefix(phc, "$2b$") || strings.HasPrefix(phc, "$2y$")
}

// checkBcrypt checks that phc, which isBcrypt, is exactly $2x$NN$<53 characters of
// bcrypt's base64> with a cost of at most maxBcryptCost.
func checkBcrypt(phc string) error {
	if len(phc) != 60 || phc[6] != '$' {
		return errors.New("bcrypt: want $2b$NN$ and 53 characters")
	}
	if phc[4] < '0' || phc[4] > '9' || phc[5] < '0' || phc[5] > '9' {
		return errors.New("bcrypt: cost is not two digits")
	}
	if cost := int(phc[4]-'0')*10 + int(phc[5]-'0'); cost < 4 || cost > maxBcryptCost {
		return fmt.Errorf("bcrypt: cost %d outside 4..%d", cost, maxBcryptCost)
	}
	for i := 7; i < len(phc); i++ {
		c := phc[i]
		if !(c == '.' || c == '/' || '0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
			return errors.New("bcrypt: character outside its base64 alphabet")
		}
	}
	return nil
}
