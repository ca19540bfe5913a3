package seal_test

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/twofold-auth/twofold/internal/seal"
)

func TestLoadOrCreateKeyFile(t *testing.T) {
	t.Run("CreatesFileWithMode0600", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "keys")
		keys, created, err := seal.LoadOrCreateKeyFile(path, rand.Reader)
		if err != nil {
			t.Fatalf("LoadOrCreateKeyFile: %v", err)
		}
		if !created {
			t.Errorf("created = false, want true")
		}
		if len(keys) != 1 {
			t.Fatalf("got %d keys, want 1", len(keys))
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatalf("stat key file: %v", err)
		}
		if runtime.GOOS != "windows" {
			if got := fi.Mode().Perm(); got != 0o600 {
				t.Errorf("mode = %04o, want 0600", got)
			}
		}
		assertNoTempFiles(t, filepath.Dir(path))
	})

	t.Run("SecondCallReadsSameKey", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "keys")
		first, _, err := seal.LoadOrCreateKeyFile(path, rand.Reader)
		if err != nil {
			t.Fatalf("first LoadOrCreateKeyFile: %v", err)
		}
		second, created, err := seal.LoadOrCreateKeyFile(path, rand.Reader)
		if err != nil {
			t.Fatalf("second LoadOrCreateKeyFile: %v", err)
		}
		if created {
			t.Errorf("second call: created = true, want false")
		}
		if len(second) != 1 || second[0].ID() != first[0].ID() {
			t.Errorf("second call returned %d keys with a different key, want the same single key %s", len(second), first[0].ID())
		}
	})

	t.Run("ConcurrentCallsAgree", func(t *testing.T) {
		for round := range 20 {
			path := filepath.Join(t.TempDir(), "keys")
			const n = 8
			var (
				wg      sync.WaitGroup
				start   = make(chan struct{})
				ids     [n]string
				created [n]bool
				errs    [n]error
			)
			for i := range n {
				wg.Go(func() {
					<-start
					keys, c, err := seal.LoadOrCreateKeyFile(path, rand.Reader)
					errs[i], created[i] = err, c
					if err == nil && len(keys) > 0 {
						ids[i] = keys[0].ID()
					}
				})
			}
			close(start)
			wg.Wait()
			creators := 0
			for i := range n {
				if errs[i] != nil {
					t.Fatalf("round %d goroutine %d: %v", round, i, errs[i])
				}
				if ids[i] != ids[0] {
					t.Fatalf("round %d goroutine %d: key %s, want %s like goroutine 0", round, i, ids[i], ids[0])
				}
				if created[i] {
					creators++
				}
			}
			if creators != 1 {
				t.Fatalf("round %d: %d goroutines report created = true, want 1", round, creators)
			}
			keys, _, err := seal.LoadOrCreateKeyFile(path, rand.Reader)
			if err != nil || keys[0].ID() != ids[0] {
				t.Fatalf("round %d: re-reading the file does not give the agreed key (err %v)", round, err)
			}
			assertNoTempFiles(t, filepath.Dir(path))
		}
	})

	t.Run("GroupReadableFileRefused", func(t *testing.T) {
		if runtime.GOOS == "windows" {
			t.Skip("file modes are not enforced on Windows")
		}
		for _, mode := range []os.FileMode{0o640, 0o604, 0o660, 0o644, 0o601} {
			path := filepath.Join(t.TempDir(), "keys")
			if err := os.WriteFile(path, []byte(randKey(t).Encode()+"\n"), 0o600); err != nil {
				t.Fatalf("writing key file: %v", err)
			}
			if err := os.Chmod(path, mode); err != nil {
				t.Fatalf("chmod: %v", err)
			}
			_, _, err := seal.LoadOrCreateKeyFile(path, rand.Reader)
			if err == nil {
				t.Errorf("mode %04o: LoadOrCreateKeyFile succeeded, want error", mode)
				continue
			}
			if !strings.Contains(err.Error(), "chmod 600") {
				t.Errorf("mode %04o: err = %v, want it to say chmod 600", mode, err)
			}
		}
	})

	t.Run("MultiLineOrderKept", func(t *testing.T) {
		a, b, c := detKey(t, 1), detKey(t, 2), detKey(t, 3)
		content := "# comment\n\n" + a.Encode() + "\n   \n# " + "older keys\n" + b.Encode() + "\r\n  " + c.Encode() + "  \n"
		path := filepath.Join(t.TempDir(), "keys")
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatalf("writing key file: %v", err)
		}
		keys, created, err := seal.LoadOrCreateKeyFile(path, rand.Reader)
		if err != nil {
			t.Fatalf("LoadOrCreateKeyFile: %v", err)
		}
		if created {
			t.Errorf("created = true for an existing file, want false")
		}
		assertKeyIDs(t, keys, a, b, c)
	})

	t.Run("BadLineRefusedWithoutQuotingIt", func(t *testing.T) {
		good := detKey(t, 1).Encode()
		bad := good[:len(good)-4] // a truncated key: looks like a secret, must not be echoed
		path := filepath.Join(t.TempDir(), "keys")
		if err := os.WriteFile(path, []byte(good+"\n"+bad+"\n"), 0o600); err != nil {
			t.Fatalf("writing key file: %v", err)
		}
		_, _, err := seal.LoadOrCreateKeyFile(path, rand.Reader)
		if err == nil {
			t.Fatalf("LoadOrCreateKeyFile succeeded, want error")
		}
		if strings.Contains(err.Error(), bad) {
			t.Errorf("error text contains the bad line")
		}
		if !strings.Contains(err.Error(), "line 2") {
			t.Errorf("error text does not name line 2")
		}
	})

	t.Run("FileWithoutKeysRefused", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "keys")
		if err := os.WriteFile(path, []byte("# nothing here\n\n"), 0o600); err != nil {
			t.Fatalf("writing key file: %v", err)
		}
		if _, _, err := seal.LoadOrCreateKeyFile(path, rand.Reader); err == nil {
			t.Errorf("LoadOrCreateKeyFile succeeded on a file without keys, want error")
		}
	})

	t.Run("FailingReaderCreatesNothing", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "keys")
		if _, _, err := seal.LoadOrCreateKeyFile(path, errReader{os.ErrClosed}); err == nil {
			t.Fatalf("LoadOrCreateKeyFile with a failing reader succeeded, want error")
		}
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("key file exists after a failed creation (stat err %v)", err)
		}
	})

	t.Run("MissingDirectoryFails", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "nope", "keys")
		if _, _, err := seal.LoadOrCreateKeyFile(path, rand.Reader); err == nil {
			t.Errorf("LoadOrCreateKeyFile in a missing directory succeeded, want error")
		}
	})
}

func TestWriteKeyFile(t *testing.T) {
	t.Run("ReplacesAtomicallyKeepingOrder", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "keys")
		old, _, err := seal.LoadOrCreateKeyFile(path, rand.Reader)
		if err != nil {
			t.Fatalf("LoadOrCreateKeyFile: %v", err)
		}
		fresh := randKey(t)
		if err := seal.WriteKeyFile(path, []seal.Key{fresh, old[0]}); err != nil {
			t.Fatalf("WriteKeyFile: %v", err)
		}
		keys, created, err := seal.LoadOrCreateKeyFile(path, rand.Reader)
		if err != nil {
			t.Fatalf("LoadOrCreateKeyFile after rotation: %v", err)
		}
		if created {
			t.Errorf("created = true after WriteKeyFile, want false")
		}
		assertKeyIDs(t, keys, fresh, old[0])
		if runtime.GOOS != "windows" {
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatalf("stat: %v", err)
			}
			if got := fi.Mode().Perm(); got != 0o600 {
				t.Errorf("mode = %04o, want 0600", got)
			}
		}
		assertNoTempFiles(t, filepath.Dir(path))
	})

	t.Run("TightensLooseMode", func(t *testing.T) {
		if runtime.GOOS == "windows" {
			t.Skip("file modes are not enforced on Windows")
		}
		path := filepath.Join(t.TempDir(), "keys")
		if err := os.WriteFile(path, []byte("x\n"), 0o644); err != nil {
			t.Fatalf("writing file: %v", err)
		}
		if err := seal.WriteKeyFile(path, []seal.Key{randKey(t)}); err != nil {
			t.Fatalf("WriteKeyFile: %v", err)
		}
		if _, _, err := seal.LoadOrCreateKeyFile(path, rand.Reader); err != nil {
			t.Errorf("LoadOrCreateKeyFile after WriteKeyFile: %v", err)
		}
	})

	t.Run("RefusesEmptyOrZeroKeys", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "keys")
		if err := seal.WriteKeyFile(path, nil); err == nil {
			t.Errorf("WriteKeyFile with no keys succeeded, want error")
		}
		if err := seal.WriteKeyFile(path, []seal.Key{randKey(t), {}}); err == nil {
			t.Errorf("WriteKeyFile with a zero Key succeeded, want error")
		}
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("key file exists after refused writes (stat err %v)", err)
		}
	})
}

// assertKeyIDs checks that got holds keys with the ids of want, in order.
func assertKeyIDs(t *testing.T, got []seal.Key, want ...seal.Key) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d keys, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].ID() != want[i].ID() {
			t.Errorf("key %d: id %s, want %s", i, got[i].ID(), want[i].ID())
		}
	}
}

// assertNoTempFiles checks that dir holds nothing but the key file.
func assertNoTempFiles(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("reading dir: %v", err)
	}
	for _, e := range entries {
		if e.Name() != "keys" {
			t.Errorf("unexpected file %q left in the key directory", e.Name())
		}
	}
}
