package sqlite

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// TestNothingEndsABatchOnAConstraint guards group commit's assumption that
// a constraint failure undoes only its own statement (SQLite's ABORT
// default): a ROLLBACK conflict clause, a RAISE(ROLLBACK) trigger or a
// deferred foreign key would end or fail the whole batch's transaction.
func TestNothingEndsABatchOnAConstraint(t *testing.T) {
	forbidden := regexp.MustCompile(`(?i)\bOR\s+ROLLBACK\b|\bON\s+CONFLICT\s+ROLLBACK\b|RAISE\s*\(\s*ROLLBACK|\bDEFERRABLE\b|defer_foreign_keys`)
	files, _ := filepath.Glob(filepath.Join("migrations", "*.sql"))
	gofiles, _ := filepath.Glob("*.go")
	for _, f := range append(files, gofiles...) {
		if filepath.Base(f) == "groupcommit_schema_test.go" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if m := forbidden.Find(b); m != nil {
			t.Errorf("%s uses %q: group commit needs constraint failures to undo only their own statement", f, m)
		}
	}
	if len(files) == 0 {
		t.Fatal("no migrations found")
	}
}
