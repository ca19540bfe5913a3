package password_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/twofold-auth/twofold/internal/password"
)

// cheap parameters keep most tests fast; DefaultParams is exercised by TestHashFormatDefaultParams.
var cheap = password.Params{Time: 1, MemoryKiB: 64, Threads: 1, KeyLen: 32, SaltLen: 16}

const (
	pw    = "correct horse battery staple"
	wrong = "correct horse battery stapler"
)

func mustHash(t *testing.T, h *password.Hasher, password string) string {
	t.Helper()
	phc, err := h.Hash(context.Background(), password)
	if err != nil {
		t.Fatalf("Hash: %v", err)
	}
	return phc
}

func TestHashVerify(t *testing.T) {
	ctx := context.Background()
	h := password.New(cheap, 0)
	for _, tc := range []struct{ name, password string }{
		{"ascii", pw},
		{"empty", ""},
		{"unicode", "pässwörd 🔑 パスワード"},
		{"long", strings.Repeat("x", 10_000)},
	} {
		t.Run(tc.name+" round trips", func(t *testing.T) {
			phc := mustHash(t, h, tc.password)
			ok, rehash, err := h.Verify(ctx, tc.password, phc)
			if err != nil || !ok || rehash {
				t.Errorf("Verify(right password) = %v, %v, %v; want true, false, nil", ok, rehash, err)
			}
		})
		t.Run(tc.name+" rejects a wrong password", func(t *testing.T) {
			phc := mustHash(t, h, tc.password)
			ok, rehash, err := h.Verify(ctx, tc.password+"x", phc)
			if err != nil || ok || rehash {
				t.Errorf("Verify(wrong password) = %v, %v, %v; want false, false, nil", ok, rehash, err)
			}
		})
	}
}

func TestHashFormatDefaultParams(t *testing.T) {
	h := password.New(password.DefaultParams, 0)
	phc := mustHash(t, h, pw)
	// 16-byte salt: 22 characters; 32-byte key: 43 characters; no padding.
	re := regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	if !re.MatchString(phc) {
		t.Errorf("Hash = %q, want a match for %s", phc, re)
	}
	ok, rehash, err := h.Verify(context.Background(), pw, phc)
	if err != nil || !ok || rehash {
		t.Errorf("Verify = %v, %v, %v; want true, false, nil", ok, rehash, err)
	}
	ok, _, err = h.Verify(context.Background(), wrong, phc)
	if err != nil || ok {
		t.Errorf("Verify(wrong password) = %v, %v; want false, nil", ok, err)
	}
}

func TestHashSaltsDiffer(t *testing.T) {
	h := password.New(cheap, 0)
	a, b := mustHash(t, h, pw), mustHash(t, h, pw)
	saltA, saltB := strings.Split(a, "$")[4], strings.Split(b, "$")[4]
	if saltA == saltB {
		t.Errorf("two hashes of one password share salt %q", saltA)
	}
	if a == b {
		t.Error("two hashes of one password are equal")
	}
}

func TestNeedsRehash(t *testing.T) {
	ctx := context.Background()
	t.Run("weaker than default params", func(t *testing.T) {
		old := mustHash(t, password.New(password.Params{Time: 1, MemoryKiB: 8192, Threads: 1, KeyLen: 32, SaltLen: 16}, 0), pw)
		ok, rehash, err := password.New(password.DefaultParams, 0).Verify(ctx, pw, old)
		if err != nil || !ok || !rehash {
			t.Errorf("Verify = %v, %v, %v; want true, true, nil", ok, rehash, err)
		}
	})

	current := password.Params{Time: 2, MemoryKiB: 256, Threads: 2, KeyLen: 32, SaltLen: 16}
	h := password.New(current, 0)
	for _, tc := range []struct {
		name string
		edit func(*password.Params)
		want bool
	}{
		{"equal params", func(*password.Params) {}, false},
		{"lower time", func(p *password.Params) { p.Time-- }, true},
		{"lower memory", func(p *password.Params) { p.MemoryKiB-- }, true},
		{"lower key length", func(p *password.Params) { p.KeyLen-- }, true},
		{"lower salt length", func(p *password.Params) { p.SaltLen-- }, true},
		{"fewer threads", func(p *password.Params) { p.Threads-- }, false},
		{"stronger params", func(p *password.Params) { p.Time++; p.MemoryKiB *= 2; p.KeyLen *= 2; p.SaltLen *= 2 }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := current
			tc.edit(&p)
			phc := mustHash(t, password.New(p, 0), pw)
			ok, rehash, err := h.Verify(ctx, pw, phc)
			if err != nil || !ok {
				t.Fatalf("Verify = %v, _, %v; want true, nil", ok, err)
			}
			if rehash != tc.want {
				t.Errorf("needsRehash = %v, want %v", rehash, tc.want)
			}
		})
	}

	t.Run("never with a wrong password", func(t *testing.T) {
		old := mustHash(t, password.New(password.Params{Time: 1, MemoryKiB: 64, Threads: 1, KeyLen: 16, SaltLen: 8}, 0), pw)
		ok, rehash, err := h.Verify(ctx, wrong, old)
		if err != nil || ok || rehash {
			t.Errorf("Verify(wrong password) = %v, %v, %v; want false, false, nil", ok, rehash, err)
		}
	})
}

func TestVerifyBcrypt(t *testing.T) {
	ctx := context.Background()
	h := password.New(cheap, 0)
	b, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatalf("bcrypt.GenerateFromPassword: %v", err)
	}
	stored := string(b) // $2a$04$...
	for _, prefix := range []string{"$2a$", "$2b$", "$2y$"} {
		phc := prefix + stored[4:]
		t.Run(prefix+" matches and needs rehash", func(t *testing.T) {
			ok, rehash, err := h.Verify(ctx, pw, phc)
			if err != nil || !ok || !rehash {
				t.Errorf("Verify = %v, %v, %v; want true, true, nil", ok, rehash, err)
			}
		})
		t.Run(prefix+" rejects a wrong password", func(t *testing.T) {
			ok, rehash, err := h.Verify(ctx, wrong, phc)
			if err != nil || ok || rehash {
				t.Errorf("Verify(wrong password) = %v, %v, %v; want false, false, nil", ok, rehash, err)
			}
		})
	}
}

func TestVerifyMalformed(t *testing.T) {
	const (
		salt = "c2FsdHNhbHRzYWx0c2FsdA"                      // 16 bytes
		key  = "a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U" // 32 bytes
	)
	argon := func(version, params, salt, key string) string {
		return "$argon2id$" + version + "$" + params + "$" + salt + "$" + key
	}
	b64 := func(n int) string { return base64.RawStdEncoding.EncodeToString(make([]byte, n)) }
	bcryptHash := "$2a$04$" + strings.Repeat("a", 53)
	for _, tc := range []struct{ name, phc string }{
		{"empty", ""},
		{"plain text", "hunter2"},
		{"unknown algorithm", "$scrypt$ln=16,r=8,p=1$c2FsdA$aGFzaA"},
		{"argon2i", "$argon2i$v=19$m=64,t=1,p=1$" + salt + "$" + key},
		{"argon2id prefix only", "$argon2id$"},
		{"missing hash", "$argon2id$v=19$m=64,t=1,p=1$" + salt},
		{"extra field", argon("v=19", "m=64,t=1,p=1", salt, key) + "$x"},
		{"no version", "$argon2id$m=64,t=1,p=1$" + salt + "$" + key},
		{"version 16", argon("v=16", "m=64,t=1,p=1", salt, key)},
		{"params out of order", argon("v=19", "t=1,m=64,p=1", salt, key)},
		{"extra param", argon("v=19", "m=64,t=1,p=1,keyid=x", salt, key)},
		{"missing param", argon("v=19", "m=64,t=1", salt, key)},
		{"negative memory", argon("v=19", "m=-64,t=1,p=1", salt, key)},
		{"signed time", argon("v=19", "m=64,t=+1,p=1", salt, key)},
		{"hex memory", argon("v=19", "m=0x40,t=1,p=1", salt, key)},
		{"empty param", argon("v=19", "m=,t=1,p=1", salt, key)},
		{"memory overflows uint32", argon("v=19", "m=4294967296,t=1,p=1", salt, key)},
		{"threads overflow uint8", argon("v=19", "m=4096,t=1,p=256", salt, key)},
		{"time 0", argon("v=19", "m=64,t=0,p=1", salt, key)},
		{"threads 0", argon("v=19", "m=64,t=1,p=0", salt, key)},
		{"memory below 8 per thread", argon("v=19", "m=15,t=1,p=2", salt, key)},
		{"memory above 1 GiB", argon("v=19", "m=1048577,t=1,p=1", salt, key)},
		{"time above 100", argon("v=19", "m=64,t=101,p=1", salt, key)},
		{"threads above 64", argon("v=19", "m=1024,t=1,p=65", salt, key)},
		{"time times memory too large", argon("v=19", "m=1048576,t=5,p=1", salt, key)},
		{"key longer than 1024 bytes", argon("v=19", "m=64,t=1,p=1", salt, b64(1025))},
		{"key shorter than 16 bytes", argon("v=19", "m=64,t=1,p=1", salt, b64(15))},
		{"empty key", argon("v=19", "m=64,t=1,p=1", salt, "")},
		{"salt shorter than 8 bytes", argon("v=19", "m=64,t=1,p=1", b64(7), key)},
		{"salt longer than 1024 bytes", argon("v=19", "m=64,t=1,p=1", b64(1025), key)},
		{"padded base64", argon("v=19", "m=64,t=1,p=1", salt+"==", key)},
		{"base64 with a line break", argon("v=19", "m=64,t=1,p=1", salt[:10]+"\n"+salt[10:], key)},
		{"url-safe base64", argon("v=19", "m=64,t=1,p=1", salt, strings.ReplaceAll(key, "a", "_"))},
		{"huge string", argon("v=19", "m=64,t=1,p=1", salt, key) + strings.Repeat("A", 1<<20)},
		{"bcrypt too short", bcryptHash[:59]},
		{"bcrypt too long", bcryptHash + "a"},
		{"bcrypt cost 31", "$2b$31$" + strings.Repeat("a", 53)},
		{"bcrypt cost 17", "$2b$17$" + strings.Repeat("a", 53)},
		{"bcrypt cost 3", "$2b$03$" + strings.Repeat("a", 53)},
		{"bcrypt cost not digits", "$2b$1a$" + strings.Repeat("a", 53)},
		{"bcrypt bad alphabet", "$2b$04$" + strings.Repeat("+", 53)},
		{"bcrypt $2x$", "$2x$04$" + strings.Repeat("a", 53)},
		{"bcrypt $2$", "$2$04$" + strings.Repeat("a", 54)},
	} {
		t.Run(tc.name+" is an error", func(t *testing.T) {
			h := password.New(cheap, 1)
			ok, rehash, err := h.Verify(context.Background(), pw, tc.phc)
			if !errors.Is(err, password.ErrMalformed) {
				t.Errorf("Verify error = %v, want one wrapping ErrMalformed", err)
			}
			if ok || rehash {
				t.Errorf("Verify = %v, %v; want false, false", ok, rehash)
			}
		})
	}
}

func TestVerifyAcceptsBoundaryParams(t *testing.T) {
	// Hashes from other argon2id implementations at the edges of what is accepted.
	for _, p := range []password.Params{
		{Time: 1, MemoryKiB: 8, Threads: 1, KeyLen: 16, SaltLen: 8},
		{Time: 3, MemoryKiB: 512, Threads: 64, KeyLen: 1024, SaltLen: 1024},
	} {
		t.Run(fmt.Sprintf("t=%d m=%d p=%d key=%d salt=%d verifies", p.Time, p.MemoryKiB, p.Threads, p.KeyLen, p.SaltLen), func(t *testing.T) {
			phc := mustHash(t, password.New(p, 0), pw)
			ok, _, err := password.New(cheap, 0).Verify(context.Background(), pw, phc)
			if err != nil || !ok {
				t.Errorf("Verify = %v, %v; want true, nil", ok, err)
			}
		})
	}
}

func TestNewPanicsOnUnusableParams(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    password.Params
	}{
		{"zero params", password.Params{}},
		{"zero threads", password.Params{Time: 1, MemoryKiB: 64, KeyLen: 32, SaltLen: 16}},
		{"short key", password.Params{Time: 1, MemoryKiB: 64, Threads: 1, KeyLen: 8, SaltLen: 16}},
		{"short salt", password.Params{Time: 1, MemoryKiB: 64, Threads: 1, KeyLen: 32, SaltLen: 4}},
	} {
		t.Run(tc.name+" panics", func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("New did not panic")
				}
			}()
			password.New(tc.p, 1)
		})
	}
}

func TestCompareDummy(t *testing.T) {
	h := password.New(cheap, 1)
	t.Run("returns nil for any password", func(t *testing.T) {
		for _, p := range []string{"", pw, strings.Repeat("y", 1000)} {
			if err := h.CompareDummy(context.Background(), p); err != nil {
				t.Errorf("CompareDummy = %v, want nil", err)
			}
		}
	})
	t.Run("returns the context's error when it is done", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := h.CompareDummy(ctx, pw); !errors.Is(err, context.Canceled) {
			t.Errorf("CompareDummy = %v, want context.Canceled", err)
		}
	})
}

// holdSlots fills all n slots of h, a new Hasher, with Hash calls that block
// while holding their slots. It returns a function that lets them finish and
// waits for them. Any later caller that gets a slot (a bug) passes straight through.
func holdSlots(t *testing.T, h *password.Hasher, n int) (done func()) {
	t.Helper()
	var holders atomic.Int32
	entered := make(chan struct{})
	release := make(chan struct{})
	h.SetSlotHook(func() {
		if holders.Add(1) <= int32(n) {
			entered <- struct{}{}
			<-release
		}
	})
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if _, err := h.Hash(context.Background(), pw); err != nil {
				t.Errorf("Hash: %v", err)
			}
		})
	}
	for range n {
		<-entered
	}
	return func() {
		close(release)
		wg.Wait()
	}
}

func TestInFlightLimit(t *testing.T) {
	const limit, callers = 3, 24
	h := password.New(cheap, limit)
	var cur, peak atomic.Int32
	entered := make(chan struct{})
	proceed := make(chan struct{})
	h.SetSlotHook(func() {
		n := cur.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		entered <- struct{}{}
		<-proceed
		cur.Add(-1)
	})

	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			ctx := context.Background()
			if i%2 == 0 {
				if _, err := h.Hash(ctx, pw); err != nil {
					t.Errorf("Hash: %v", err)
				}
				return
			}
			if _, _, err := h.Verify(ctx, pw, "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5aw"); err != nil {
				t.Errorf("Verify: %v", err)
			}
		})
	}

	// Every slot is taken and its holder blocked: nobody else can be hashing.
	for range limit {
		<-entered
	}
	if got := h.InFlight(); got != limit {
		t.Errorf("InFlight() with all slots held = %d, want %d", got, limit)
	}
	// Let the callers through one at a time; each finishing frees a slot for one more.
	for range callers - limit {
		proceed <- struct{}{}
		<-entered
	}
	for range limit {
		proceed <- struct{}{}
	}
	wg.Wait()

	if got := peak.Load(); got != limit {
		t.Errorf("peak concurrent hashes = %d, want %d", got, limit)
	}
	if got := h.InFlight(); got != 0 {
		t.Errorf("InFlight() after all finished = %d, want 0", got)
	}
}

func TestWaitRespectsContext(t *testing.T) {
	h := password.New(cheap, 2)
	done := holdSlots(t, h, 2)
	defer done()
	if got := h.InFlight(); got != 2 {
		t.Errorf("InFlight() with both slots held = %d, want 2", got)
	}

	phc := "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5aw"
	for _, tc := range []struct {
		name string
		call func(context.Context) error
	}{
		{"Hash", func(ctx context.Context) error { _, err := h.Hash(ctx, pw); return err }},
		{"Verify", func(ctx context.Context) error { _, _, err := h.Verify(ctx, pw, phc); return err }},
		{"CompareDummy", func(ctx context.Context) error { return h.CompareDummy(ctx, pw) }},
	} {
		t.Run(tc.name+" returns ctx.Err when cancelled while waiting", func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			errc := make(chan error, 1)
			go func() { errc <- tc.call(ctx) }()
			cancel()
			if err := <-errc; !errors.Is(err, context.Canceled) {
				t.Errorf("error = %v, want context.Canceled", err)
			}
		})
		t.Run(tc.name+" returns ctx.Err when the deadline passes while waiting", func(t *testing.T) {
			// Both slots are held until the test ends, so the call can only end by the deadline.
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			defer cancel()
			if err := tc.call(ctx); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("error = %v, want context.DeadlineExceeded", err)
			}
		})
	}
}

func TestVerifyMalformedNamesTheReason(t *testing.T) {
	salt := base64.RawStdEncoding.EncodeToString(make([]byte, 16))
	key := base64.RawStdEncoding.EncodeToString(make([]byte, 32))
	for _, tc := range []struct{ name, phc, reason string }{
		{"memory above 1 GiB", "$argon2id$v=19$m=1048577,t=1,p=1$" + salt + "$" + key, "memory"},
		{"time above 100", "$argon2id$v=19$m=64,t=101,p=1$" + salt + "$" + key, "time"},
		{"threads above 64", "$argon2id$v=19$m=1024,t=1,p=65$" + salt + "$" + key, "threads"},
		{"short key", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key[:20], "key length"},
		{"short salt", "$argon2id$v=19$m=64,t=1,p=1$" + salt[:8] + "$" + key, "salt length"},
		{"bcrypt cost", "$2b$31$" + strings.Repeat("a", 53), "cost 31"},
	} {
		t.Run(tc.name+" is named in the error", func(t *testing.T) {
			_, _, err := password.New(cheap, 1).Verify(context.Background(), pw, tc.phc)
			if err == nil || !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("Verify error = %v, want one mentioning %q", err, tc.reason)
			}
		})
	}
}

// TestVerifyInReusedMemory checks hashes of several parameter sets, made
// by Hashers of their own, verify (and wrong passwords do not) in one
// Hasher whose argon2id memory each hash leaves behind for the next.
func TestVerifyInReusedMemory(t *testing.T) {
	ctx := context.Background()
	var phcs []string
	for _, p := range []password.Params{
		cheap,
		{Time: 2, MemoryKiB: 256, Threads: 2, KeyLen: 32, SaltLen: 16},
		{Time: 3, MemoryKiB: 32, Threads: 4, KeyLen: 16, SaltLen: 8},
		{Time: 1, MemoryKiB: 1024, Threads: 1, KeyLen: 64, SaltLen: 32},
	} {
		phcs = append(phcs, mustHash(t, password.New(p, 1), pw))
	}
	mib := password.Params{Time: 1, MemoryKiB: 1024, Threads: 1, KeyLen: 32, SaltLen: 16}
	h := password.New(mib, 1) // as much memory as the largest, so every hash runs in what the last left
	for round := range 3 {
		for i := range phcs {
			phc := phcs[(i+round)%len(phcs)]
			if ok, _, err := h.Verify(ctx, pw, phc); !ok || err != nil {
				t.Fatalf("round %d, hash %d: Verify(right password) = %v, %v; want true, nil", round, (i+round)%len(phcs), ok, err)
			}
			if ok, _, err := h.Verify(ctx, wrong, phc); ok || err != nil {
				t.Fatalf("round %d, hash %d: Verify(wrong password) = %v, %v; want false, nil", round, (i+round)%len(phcs), ok, err)
			}
		}
		own := mustHash(t, h, pw)
		if ok, _, err := password.New(mib, 1).Verify(ctx, pw, own); !ok || err != nil {
			t.Fatalf("round %d: a hash made in reused memory does not verify in fresh memory: %v, %v", round, ok, err)
		}
	}
}

// TestHasherKeepsOnlyItsOwnMemory checks the memory a Hasher keeps between
// hashes: one piece reused by hash after hash, never one grown for a
// stored hash with more memory than the Hasher's own.
func TestHasherKeepsOnlyItsOwnMemory(t *testing.T) {
	ctx := context.Background()
	h := password.New(cheap, 1) // New hashes once, for CompareDummy
	for range 5 {
		mustHash(t, h, pw)
	}
	if got := h.KeptMemoryKiB(); len(got) != 1 || got[0] != 64 {
		t.Fatalf("after 6 hashes one at a time, kept memory = %v KiB, want [64]", got)
	}
	big := mustHash(t, password.New(password.Params{Time: 1, MemoryKiB: 4096, Threads: 1, KeyLen: 32, SaltLen: 16}, 1), pw)
	if ok, _, err := h.Verify(ctx, pw, big); !ok || err != nil {
		t.Fatalf("Verify(4 MiB hash) = %v, %v; want true, nil", ok, err)
	}
	if got := h.KeptMemoryKiB(); len(got) != 1 || got[0] != 64 {
		t.Fatalf("after verifying a 4 MiB hash, kept memory = %v KiB, want [64]", got)
	}
}

// TestHashesReuseMemory checks hashes one after another allocate far less
// than the m KiB each works in: the memory is kept, not asked for again.
func TestHashesReuseMemory(t *testing.T) {
	p := password.Params{Time: 1, MemoryKiB: 4096, Threads: 1, KeyLen: 32, SaltLen: 16}
	h := password.New(p, 1)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 5 {
		mustHash(t, h, pw)
	}
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
		t.Fatalf("5 hashes at m=4 MiB allocated %d KiB, want under 1024: the memory is not reused", got>>10)
	}
}

// TestConcurrentHashesNeverShareMemory runs hashes and verifications at
// once, more than there are cores, and checks every result: two hashes in
// one piece of memory would spoil both.
func TestConcurrentHashesNeverShareMemory(t *testing.T) {
	ctx := context.Background()
	p := password.Params{Time: 2, MemoryKiB: 256, Threads: 1, KeyLen: 32, SaltLen: 16}
	h := password.New(p, 8)
	known := mustHash(t, password.New(p, 1), pw)
	made := make([]string, 8)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			if i%2 == 0 {
				made[i/2] = mustHash(t, h, pw)
				return
			}
			if ok, _, err := h.Verify(ctx, pw, known); !ok || err != nil {
				t.Errorf("concurrent Verify(right password) = %v, %v; want true, nil", ok, err)
			}
			if ok, _, err := h.Verify(ctx, wrong, known); ok || err != nil {
				t.Errorf("concurrent Verify(wrong password) = %v, %v; want false, nil", ok, err)
			}
		})
	}
	wg.Wait()
	fresh := password.New(p, 1)
	for i, phc := range made {
		if ok, _, err := fresh.Verify(ctx, pw, phc); !ok || err != nil {
			t.Errorf("hash %d made concurrently does not verify: %v, %v", i, ok, err)
		}
	}
}

// TestKeptMemoryIsAtMostOnePerCore runs four hashes per core at once and
// checks the Hasher keeps no more memory than one per core afterwards.
func TestKeptMemoryIsAtMostOnePerCore(t *testing.T) {
	cores := runtime.GOMAXPROCS(0)
	n := 4 * cores
	h := password.New(cheap, n)
	var holding sync.WaitGroup
	holding.Add(n)
	h.SetMemoryHook(func() { holding.Done(); holding.Wait() }) // every hash starts once all n hold memory
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { mustHash(t, h, pw) })
	}
	wg.Wait()
	if got := h.KeptMemoryKiB(); len(got) != cores {
		t.Fatalf("after %d hashes at once, kept memory = %v KiB, want one 64 KiB piece per core (%d)", n, got, cores)
	}
}
