package main

import "testing"

func TestGCSettings(t *testing.T) {
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	percent, limit, ok := gcSettings(env(nil), 2, 19456)
	if !ok || percent != 400 {
		t.Fatalf("defaults: got %d, %v; want GOGC 400", percent, ok)
	}
	if want := int64(64<<20 + 2*2*19456<<10); limit != want {
		t.Errorf("memory limit on 2 cores with 19 MiB hashes: got %d, want %d (64 MiB + twice the hashes in flight)", limit, want)
	}
	if _, big, _ := gcSettings(env(nil), 16, 19456); big <= limit {
		t.Errorf("memory limit on 16 cores (%d) is not above 2 cores' (%d)", big, limit)
	}
	for _, k := range []string{"GOGC", "GOMEMLIMIT"} {
		if _, _, ok := gcSettings(env(map[string]string{k: "200"}), 2, 19456); ok {
			t.Errorf("%s set by the operator: got twofold's settings, want Go's to stand", k)
		}
	}
}
