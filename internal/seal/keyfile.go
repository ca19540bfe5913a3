package seal

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// maxKeyFileSize bounds how much of a key file is read; a real one holds a few short lines.
const maxKeyFileSize = 1 << 20

// keyFileHeader is written at the top of every key file this package creates.
const keyFileHeader = "# twofold encryption keys, one base64 key per line.\n" +
	"# The first key seals new values; later keys only open older ones.\n" +
	"# Keep this file private (chmod 600) and back it up: without it sealed secrets are lost.\n"

// LoadOrCreateKeyFile reads the key file at path, or creates it with one new key from r when it does not exist.
//
// The file holds one base64 key per line; the first is the primary and later ones are older keys
// that can still be opened. Blank lines and lines starting with '#' are ignored. A file whose mode
// allows group or other access is refused. Creation is atomic and safe against other processes
// starting at the same time: exactly one of them creates the file and all of them return its keys.
// created reports whether this call made the file.
func LoadOrCreateKeyFile(path string, r io.Reader) (keys []Key, created bool, err error) {
	keys, err = readKeyFile(path)
	if err == nil {
		return keys, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}

	k, err := NewKey(r)
	if err != nil {
		return nil, false, fmt.Errorf("creating key file %s: %w", path, err)
	}
	won, err := createExclusive(path, encodeKeyFile([]Key{k}))
	if err != nil {
		return nil, false, fmt.Errorf("creating key file %s: %w", path, err)
	}
	if !won {
		// Another process created the file first; use its keys so every process agrees.
		keys, err = readKeyFile(path)
		if err != nil {
			return nil, false, err
		}
		return keys, false, nil
	}
	return []Key{k}, true, nil
}

// LoadKeyFile reads the key file at path, checked as LoadOrCreateKeyFile
// does, without ever creating it: an error wrapping fs.ErrNotExist when
// there is none.
func LoadKeyFile(path string) ([]Key, error) { return readKeyFile(path) }

// WriteKeyFile atomically replaces the key file at path with keys, primary first, with mode 0600.
func WriteKeyFile(path string, keys []Key) error {
	if err := checkKeys(keys); err != nil {
		return fmt.Errorf("writing key file %s: %w", path, err)
	}
	tmp, err := writeTemp(path, encodeKeyFile(keys))
	if err != nil {
		return fmt.Errorf("writing key file %s: %w", path, err)
	}
	defer os.Remove(tmp)
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing key file %s: %w", path, err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("writing key file %s: %w", path, err)
	}
	return nil
}

// checkKeys rejects an empty key list and zero Keys.
func checkKeys(keys []Key) error {
	if len(keys) == 0 {
		return errors.New("no keys")
	}
	for i, k := range keys {
		if k.isZero() {
			return fmt.Errorf("key %d is the zero Key", i+1)
		}
	}
	return nil
}

// encodeKeyFile renders keys in key file format, primary first.
func encodeKeyFile(keys []Key) []byte {
	var b bytes.Buffer
	b.WriteString(keyFileHeader)
	for _, k := range keys {
		b.WriteString(k.Encode())
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// readKeyFile opens, checks and parses the key file at path.
func readKeyFile(path string) ([]Key, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading key file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading key file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("reading key file %s: not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return nil, fmt.Errorf("reading key file %s: mode %04o allows group/other access; run chmod 600 %s", path, perm, path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading key file %s: %w", path, err)
	}
	if len(data) > maxKeyFileSize {
		return nil, fmt.Errorf("reading key file %s: larger than %d bytes", path, maxKeyFileSize)
	}
	keys, err := parseKeyFile(data)
	if err != nil {
		return nil, fmt.Errorf("reading key file %s: %w", path, err)
	}
	return keys, nil
}

// parseKeyFile parses key file contents, keeping the order of the keys.
func parseKeyFile(data []byte) ([]Key, error) {
	var keys []Key
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxKeyFileSize)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, err := ParseKey(line)
		if err != nil {
			// The line itself is never quoted: it may be a real key.
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		keys = append(keys, k)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, errors.New("no keys")
	}
	return keys, nil
}

// createExclusive makes a file at path holding data with mode 0600 unless path already exists.
// The file appears complete or not at all: data is written to a temporary file in the same
// directory, which is then hard-linked into place, and linking fails when path exists.
// won reports whether this call created path.
func createExclusive(path string, data []byte) (won bool, err error) {
	tmp, err := writeTemp(path, data)
	if err != nil {
		return false, err
	}
	defer os.Remove(tmp)
	err = os.Link(tmp, path)
	switch {
	case err == nil:
	case errors.Is(err, fs.ErrExist):
		return false, nil
	default:
		// The filesystem may not support hard links; fall back to O_EXCL on path itself.
		// Only one process can create it; a concurrent reader may see it before it is
		// complete and fail, never read a different key.
		won, err = createExclusiveDirect(path, data)
		if err != nil || !won {
			return won, err
		}
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return true, err
	}
	return true, nil
}

// createExclusiveDirect writes data to path with O_CREATE|O_EXCL and mode 0600.
func createExclusiveDirect(path string, data []byte) (won bool, err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if _, err = f.Write(data); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		// Leave no partial key file behind; the next start creates a fresh one.
		os.Remove(path)
		return false, err
	}
	return true, nil
}

// writeTemp writes data to a new mode-0600 temporary file next to path and returns its name.
func writeTemp(path string, data []byte) (name string, err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return "", err
	}
	name = f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(name)
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		return "", err
	}
	if _, err := f.Write(data); err != nil {
		return "", err
	}
	if err := f.Sync(); err != nil {
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return name, nil
}

// syncDir flushes a directory so a new or renamed entry in it survives a crash.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
