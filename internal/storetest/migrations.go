package storetest

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// LatestMigration is the highest migration number in the calling package's
// ./migrations directory (files named NNNN_name.sql).
func LatestMigration(t testing.TB) int {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("migrations", "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("list migrations: %v", err)
	}
	latest := 0
	for _, f := range files {
		n, err := strconv.Atoi(strings.SplitN(filepath.Base(f), "_", 2)[0])
		if err != nil {
			t.Fatalf("migration %s: %v", f, err)
		}
		latest = max(latest, n)
	}
	return latest
}
