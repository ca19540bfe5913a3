package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"runtime"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/twofold-auth/twofold/internal/argon2"
)

// Params are argon2id cost parameters.
type Params struct {
	Time      uint32 // passes over memory (t)
	MemoryKiB uint32 // memory in KiB (m)
	Threads   uint8  // lanes (p)
	KeyLen    uint32 // derived key length in bytes
	SaltLen   int    // salt length in bytes
}

// DefaultParams are OWASP's argon2id recommendation: t=2, m=19456 KiB, p=1, a 32-byte key and a 16-byte salt.
var DefaultParams = Params{Time: 2, MemoryKiB: 19456, Threads: 1, KeyLen: 32, SaltLen: 16}

// ErrMalformed is wrapped by the error Verify returns for a stored hash it cannot parse or refuses to run.
var ErrMalformed = errors.New("malformed password hash")

// Bounds on parameters, for New and for stored hashes. The upper bounds keep a
// hostile or corrupt stored hash from exhausting memory or CPU; the lower
// bounds keep a stored hash from being trivially matched (a 1-byte key would
// accept one password in 256).
const (
	maxTime      = 100
	maxMemoryKiB = 1 << 20 // 1 GiB
	maxWorkKiB   = 4 << 20 // Time*MemoryKiB: at most 4 GiB of memory traffic
	maxThreads   = 64
	minKeyLen    = 16
	maxKeyLen    = 1024
	minSaltLen   = 8 // RFC 9106's minimum
	maxSaltLen   = 1024
)

// check reports why p is outside the bounds above, or nil.
func (p Params) check() error {
	switch {
	case p.Time < 1 || p.Time > maxTime:
		return fmt.Errorf("time %d outside 1..%d", p.Time, maxTime)
	case p.Threads < 1 || p.Threads > maxThreads:
		return fmt.Errorf("threads %d outside 1..%d", p.Threads, maxThreads)
	case p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > maxMemoryKiB:
		return fmt.Errorf("memory %d KiB outside %d..%d", p.MemoryKiB, 8*uint32(p.Threads), maxMemoryKiB)
	case uint64(p.Time)*uint64(p.MemoryKiB) > maxWorkKiB:
		return fmt.Errorf("time %d times memory %d KiB exceeds %d", p.Time, p.MemoryKiB, maxWorkKiB)
	case p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen:
		return fmt.Errorf("key length %d outside %d..%d", p.KeyLen, minKeyLen, maxKeyLen)
	case p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen:
		return fmt.Errorf("salt length %d outside %d..%d", p.SaltLen, minSaltLen, maxSaltLen)
	}
	return nil
}

// weakerThan reports whether any cost parameter of p is below the same one of q.
func (p Params) weakerThan(q Params) bool {
	return p.Time < q.Time || p.MemoryKiB < q.MemoryKiB || p.KeyLen < q.KeyLen || p.SaltLen < q.SaltLen
}

// Hasher hashes and verifies passwords; at most MaxInFlight hashes run at once, others wait (respecting ctx).
// A Hasher is safe for concurrent use.
type Hasher struct {
	params Params
	sem    chan struct{} // one element per running hash
	dummy  string        // a hash of a random password, for CompareDummy

	// mems is argon2id working memory kept between hashes, at most one per
	// core (GOMAXPROCS when New ran): allocating m KiB afresh for every
	// hash cost the runtime's zeroing and the kernel's page faults, about
	// a quarter of a login's CPU (docs/performance.md). A stored hash with
	// a larger m than h's own gets memory of its own, which is not kept.
	mems chan *argon2.Memory

	slotHook func() // tests only: runs while a slot is held
	memHook  func() // tests only: runs while kept memory is held, before hashing
}

// New returns a Hasher with parameters p that runs at most maxInFlight hashes at once;
// maxInFlight <= 0 means runtime.GOMAXPROCS(0). It computes one hash (of a random
// password, for CompareDummy) before returning. New panics if p is unusable
// (Time outside 1..100, Threads outside 1..64, MemoryKiB outside 8*Threads..1 GiB,
// KeyLen outside 16..1024, SaltLen outside 8..1024), as that is a programming error.
func New(p Params, maxInFlight int) *Hasher {
	if err := p.check(); err != nil {
		panic("password: New: invalid params: " + err.Error())
	}
	if maxInFlight <= 0 {
		maxInFlight = runtime.GOMAXPROCS(0)
	}
	h := &Hasher{params: p, sem: make(chan struct{}, maxInFlight),
		mems: make(chan *argon2.Memory, min(maxInFlight, runtime.GOMAXPROCS(0)))}
	h.dummy = h.hash(rand.Text())
	return h
}

// InFlight reports how many hashes are running at this moment (for a gauge metric).
func (h *Hasher) InFlight() int {
	return len(h.sem)
}

// Hash returns a PHC string of password hashed with argon2id at h's parameters:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>, salt and hash in standard base64 without padding.
// It waits for a free slot, returning ctx.Err() if ctx is done first.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	var phc string
	if err := h.withSlot(ctx, func() { phc = h.hash(password) }); err != nil {
		return "", err
	}
	return phc, nil
}

// hash hashes password with a fresh salt, without taking a slot.
func (h *Hasher) hash(password string) string {
	salt := make([]byte, h.params.SaltLen)
	rand.Read(salt) // never returns an error; it crashes the program if it cannot read
	p := h.params
	key := h.idKey([]byte(password), salt, p)
	return encodeArgon2id(p, salt, key)
}

// Verify reports whether password matches phc, an argon2id PHC string or a bcrypt hash
// ($2a$, $2b$ or $2y$, for users imported from other systems). needsRehash is true when
// the password matches and the hash is bcrypt, or argon2id with Time, MemoryKiB, KeyLen
// or SaltLen below h's, so the caller should store Hash(password) in its place; it is
// never true when ok is false. Keys are compared in constant time.
//
// A stored hash that cannot be parsed, or whose parameters are out of bounds (so a
// hostile import cannot exhaust memory or CPU, nor store a trivially matched hash),
// gives an error wrapping ErrMalformed. Verify waits for a free slot, returning
// ctx.Err() if ctx is done first.
func (h *Hasher) Verify(ctx context.Context, password, phc string) (ok bool, needsRehash bool, err error) {
	switch {
	case strings.HasPrefix(phc, "$argon2id$"):
		a, err := parseArgon2id(phc)
		if err != nil {
			return false, false, fmt.Errorf("verifying password: %w: %w", ErrMalformed, err)
		}
		var key []byte
		err = h.withSlot(ctx, func() {
			key = h.idKey([]byte(password), a.salt, a.params)
		})
		if err != nil {
			return false, false, err
		}
		if subtle.ConstantTimeCompare(key, a.key) != 1 {
			return false, false, nil
		}
		return true, a.params.weakerThan(h.params), nil

	case isBcrypt(phc):
		if err := checkBcrypt(phc); err != nil {
			return false, false, fmt.Errorf("verifying password: %w: %w", ErrMalformed, err)
		}
		var cmpErr error
		err := h.withSlot(ctx, func() {
			// Compares in constant time. Like every bcrypt, it reads only the first 72 bytes of password.
			cmpErr = bcrypt.CompareHashAndPassword([]byte(phc), []byte(password))
		})
		switch {
		case err != nil:
			return false, false, err
		case errors.Is(cmpErr, bcrypt.ErrMismatchedHashAndPassword):
			return false, false, nil
		case cmpErr != nil:
			return false, false, fmt.Errorf("verifying password: %w: bcrypt: %w", ErrMalformed, cmpErr)
		}
		return true, true, nil
	}
	return false, false, fmt.Errorf("verifying password: %w: not argon2id or bcrypt", ErrMalformed)
}

// CompareDummy runs one full verification against a fixed dummy hash at h's parameters,
// so an unknown email costs the same time as a wrong password. It returns nil unless
// ctx is done before the verification could start.
func (h *Hasher) CompareDummy(ctx context.Context, password string) error {
	if _, _, err := h.Verify(ctx, password, h.dummy); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		// Unreachable: h.dummy is well formed.
	}
	return nil
}

// idKey is argon2id of password and salt at p, in memory kept from an
// earlier hash when there is some and p needs no more than h's own.
func (h *Hasher) idKey(password, salt []byte, p Params) []byte {
	if p.MemoryKiB > h.params.MemoryKiB {
		return argon2.IDKey(nil, password, salt, p.Time, p.MemoryKiB, p.Threads, p.KeyLen)
	}
	var mem *argon2.Memory
	select {
	case mem = <-h.mems:
	default:
		mem = new(argon2.Memory)
	}
	if h.memHook != nil {
		h.memHook()
	}
	key := argon2.IDKey(mem, password, salt, p.Time, p.MemoryKiB, p.Threads, p.KeyLen)
	select {
	case h.mems <- mem:
	default: // more hashes in flight than cores
	}
	return key
}

// withSlot runs f once one of h's slots is free, or returns ctx.Err() if ctx is done first.
func (h *Hasher) withSlot(ctx context.Context, f func()) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case h.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-h.sem }()
	if h.slotHook != nil {
		h.slotHook()
	}
	f()
	return nil
}
