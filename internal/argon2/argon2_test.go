package argon2

import (
	"bytes"
	"encoding/hex"
	"math/rand/v2"
	"testing"

	xargon2 "golang.org/x/crypto/argon2"
)

// dirty returns a Memory of kib KiB full of pseudo-random garbage, as one
// left by an earlier hash would be.
func dirty(kib int, seed uint64) *Memory {
	r := rand.New(rand.NewPCG(seed, 1))
	m := &Memory{blocks: make([]block, kib)}
	for i := range m.blocks {
		for j := range m.blocks[i] {
			m.blocks[i][j] = r.Uint64()
		}
	}
	return m
}

// withEachImplementation runs f with the SIMD block function (where the
// machine has it) and without it. On amd64 "generic" still mixes blocks in
// SSE2 assembly; processBlockGeneric runs with -tags purego (.ci/run) and
// on other architectures.
func withEachImplementation(t *testing.T, f func(t *testing.T)) {
	defer func(sse4, lsx bool) { useSSE4, useLSX = sse4, lsx }(useSSE4, useLSX)
	if useSSE4 || useLSX {
		t.Run("simd", f)
	}
	useSSE4, useLSX = false, false
	t.Run("generic", f)
}

// TestRFC9106Argon2id is RFC 9106's Argon2id test vector (section 5.3),
// which also uses the secret and associated data that IDKey leaves empty,
// in fresh memory and in memory an earlier hash left dirty.
func TestRFC9106Argon2id(t *testing.T) {
	want, _ := hex.DecodeString("0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659")
	password := bytes.Repeat([]byte{0x01}, 32)
	salt := bytes.Repeat([]byte{0x02}, 16)
	secret := bytes.Repeat([]byte{0x03}, 8)
	data := bytes.Repeat([]byte{0x04}, 12)
	withEachImplementation(t, func(t *testing.T) {
		for name, mem := range map[string]*Memory{"fresh": nil, "dirty": dirty(32, 7), "larger and dirty": dirty(4096, 8)} {
			got := deriveKey(mem, argon2id, password, salt, secret, data, 3, 32, 4, 32)
			if !bytes.Equal(got, want) {
				t.Errorf("%s memory: tag = %x, want %x", name, got, want)
			}
		}
	})
}

// TestVectors are x/crypto's Argon2id vectors (from the reference
// implementation), each computed twice in one Memory.
func TestVectors(t *testing.T) {
	vectors := []struct {
		time, memory uint32
		threads      uint8
		hash         string
	}{
		{1, 64, 1, "655ad15eac652dc59f7170a7332bf49b8469be1fdb9c28bb"},
		{2, 64, 1, "068d62b26455936aa6ebe60060b0a65870dbfa3ddf8d41f7"},
		{2, 64, 2, "350ac37222f436ccb5c0972f1ebd3bf6b958bf2071841362"},
		{3, 256, 2, "4668d30ac4187e6878eedeacf0fd83c5a0a30db2cc16ef0b"},
		{4, 4096, 4, "145db9733a9f4ee43edf33c509be96b934d505a4efb33c5a"},
		{4, 1024, 8, "8dafa8e004f8ea96bf7c0f93eecf67a6047476143d15577f"},
		{2, 64, 3, "4a15b31aec7c2590b87d1f520be7d96f56658172deaa3079"},
		{3, 1024, 6, "1640b932f4b60e272f5d2207b9a9c626ffa1bd88d2349016"},
	}
	withEachImplementation(t, func(t *testing.T) {
		mem := new(Memory)
		for i, v := range vectors {
			want, _ := hex.DecodeString(v.hash)
			for round := range 2 {
				got := IDKey(mem, []byte("password"), []byte("somesalt"), v.time, v.memory, v.threads, uint32(len(want)))
				if !bytes.Equal(got, want) {
					t.Errorf("vector %d, round %d: %x, want %x", i, round, got, want)
				}
			}
		}
	})
}

// TestIDKeyMatchesXCrypto compares IDKey in reused, dirty memory with
// x/crypto's IDKey in fresh memory, over many parameter sets.
func TestIDKeyMatchesXCrypto(t *testing.T) {
	withEachImplementation(t, testIDKeyMatchesXCrypto)
}

func testIDKeyMatchesXCrypto(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	mem := dirty(1024, 3)
	for i := range 200 {
		threads := uint8(1 + r.IntN(4))
		memory := uint32(8*int(threads) + r.IntN(600))
		time := uint32(1 + r.IntN(3))
		keyLen := uint32(16 + r.IntN(64))
		password := make([]byte, r.IntN(40))
		salt := make([]byte, 8+r.IntN(24))
		for _, b := range [][]byte{password, salt} {
			for j := range b {
				b[j] = byte(r.Uint32())
			}
		}
		got := IDKey(mem, password, salt, time, memory, threads, keyLen)
		want := xargon2.IDKey(password, salt, time, memory, threads, keyLen)
		if !bytes.Equal(got, want) {
			t.Fatalf("case %d (t=%d m=%d p=%d): differs from x/crypto", i, time, memory, threads)
		}
	}
}

// TestIDKeyGrowsMemory checks a Memory too small for a hash grows to fit it.
func TestIDKeyGrowsMemory(t *testing.T) {
	mem := dirty(16, 4)
	got := IDKey(mem, []byte("pw"), []byte("saltsalt"), 1, 64, 1, 32)
	if want := xargon2.IDKey([]byte("pw"), []byte("saltsalt"), 1, 64, 1, 32); !bytes.Equal(got, want) {
		t.Fatal("differs from x/crypto")
	}
	if mem.KiB() != 64 {
		t.Fatalf("KiB() = %d after a 64 KiB hash, want 64", mem.KiB())
	}
}

// TestOnePassLeavesNoBlocks checks a one-pass hash clears the memory it
// leaves behind (its blocks are cheap to test a password guess against),
// and a two-pass one, whose blocks are not, leaves it as it is.
func TestOnePassLeavesNoBlocks(t *testing.T) {
	for _, tc := range []struct {
		time      uint32
		wantClear bool
	}{{1, true}, {2, false}} {
		mem := new(Memory)
		IDKey(mem, []byte("pw"), []byte("saltsalt"), tc.time, 64, 1, 32)
		clean := true
		for _, b := range mem.blocks {
			if b != (block{}) {
				clean = false
			}
		}
		if clean != tc.wantClear {
			t.Errorf("t=%d: memory left all zero = %v, want %v", tc.time, clean, tc.wantClear)
		}
	}
}

// FuzzIDKey compares IDKey in dirty memory with x/crypto's.
func FuzzIDKey(f *testing.F) {
	f.Add([]byte("password"), []byte("somesalt"), uint8(2), uint16(64), uint8(1), uint8(32))
	f.Add([]byte{}, []byte("12345678"), uint8(1), uint16(8), uint8(1), uint8(16))
	f.Add([]byte("pw"), []byte("saltsaltsalt"), uint8(3), uint16(300), uint8(3), uint8(64))
	mem := dirty(1024, 5)
	f.Fuzz(func(t *testing.T, password, salt []byte, time uint8, memory uint16, threads uint8, keyLen uint8) {
		tm := uint32(time%4) + 1
		p := threads%4 + 1
		m := uint32(memory)%1024 + 8*uint32(p)
		kl := uint32(keyLen%64) + 4
		got := IDKey(mem, password, salt, tm, m, p, kl)
		if want := xargon2.IDKey(password, salt, tm, m, p, kl); !bytes.Equal(got, want) {
			t.Fatalf("t=%d m=%d p=%d: differs from x/crypto", tm, m, p)
		}
	})
}

func BenchmarkIDKeyDefault(b *testing.B) {
	b.Run("reused memory", func(b *testing.B) {
		mem := new(Memory)
		for b.Loop() {
			IDKey(mem, []byte("password"), []byte("somesaltsomesalt"), 2, 19456, 1, 32)
		}
	})
	b.Run("x/crypto", func(b *testing.B) {
		for b.Loop() {
			xargon2.IDKey([]byte("password"), []byte("somesaltsomesalt"), 2, 19456, 1, 32)
		}
	})
}
