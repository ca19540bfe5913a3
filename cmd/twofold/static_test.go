package main

import (
	"debug/elf"
	"runtime"
	"testing"
)

// TestReleaseBinaryIsOneStaticFile: built as docs/deploy.md says, the
// binary needs no dynamic loader and no shared library (SQLite is compiled
// in), so it runs as one file on any Linux of its architecture.
func TestReleaseBinaryIsOneStaticFile(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("checks an ELF binary; this is " + runtime.GOOS)
	}
	f, err := elf.Open(binary(t))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary asks for a dynamic loader (PT_INTERP): it is not static")
		}
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		t.Fatal(err)
	}
	if len(libs) > 0 {
		t.Errorf("the binary needs shared libraries %v", libs)
	}
}
