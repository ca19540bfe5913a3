package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twofold-auth/twofold/internal/auth"
	"modernc.org/sqlite"
)

// TestGroupCommitKeepsEachStatementsOutcome queues many writes while the
// writer is busy, so that they commit as one batch, and checks that each
// caller gets its own statement's outcome: of five users with one email one
// is created and four fail as duplicates without undoing anyone else's
// write, and every write is in the database after it is reopened.
func TestGroupCommitKeepsEachStatementsOutcome(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "gc.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	// Hold the writer connection so that the writes queue up.
	release, batches := holdWriter(db)

	const names, tries = 20, 3 // each name inserted 3 times
	errs := make([]error, names*tries)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() { errs[i] = db.AddSetting(ctx, fmt.Sprintf("n%02d", i%names), "v") })
	}
	// In the same batch: five users with one email, so four inserts fail on
	// the unique constraint amid the others.
	var mu sync.Mutex
	var created, dups int
	for i := range 5 {
		wg.Go(func() {
			err := db.CreateUser(ctx, auth.User{ID: fmt.Sprintf("u%d", i), Email: "same@example.com", PasswordHash: "h"})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				created++
			case errors.Is(err, auth.ErrDuplicate):
				dups++
			default:
				t.Errorf("create user %d: %v", i, err)
			}
		})
	}
	if !waitQueued(db, batches, len(errs)+5) {
		release()
		t.Fatal("the writes were not queued")
	}
	release()
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("write %d: %v", i, err)
		}
	}
	sizes := batches()
	if len(sizes) > 2 || slices.Max(sizes) < 2 {
		t.Errorf("batches %v: want the queued writes in at most two", sizes)
	}

	wantInt := func(what string, got, want int) {
		if got != want {
			t.Errorf("%s: got %d, want %d", what, got, want)
		}
	}
	wantInt("users created for one email", created, 1)
	wantInt("duplicates refused", dups, 4)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i := range names {
		if _, err := db.Setting(ctx, fmt.Sprintf("n%02d", i)); err != nil {
			t.Errorf("setting n%02d after reopening: %v", i, err)
		}
	}
	if _, err := db.UserByEmail(ctx, "same@example.com"); err != nil {
		t.Errorf("the one user of the taken email: %v", err)
	}
	// A cancelled context is refused before anything is queued.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := db.AddSetting(cctx, "late", "v"); !errors.Is(err, context.Canceled) {
		t.Errorf("write with a cancelled context: got %v", err)
	}
}

// TestGroupCommitCallerLeavesWhileQueued: a caller whose context ends while
// its write waits behind a busy writer gets its error at once, and the
// write is never applied; the others still are.
func TestGroupCommitCallerLeavesWhileQueued(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "gc.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	release := make(chan struct{})
	held := make(chan struct{})
	go db.tx(ctx, "hold", func(*sql.Tx) error { close(held); <-release; return nil })
	<-held

	// First a write the committer takes and then waits with for the writer;
	// then one that stays queued behind it.
	taken := make(chan struct{}, 8)
	db.write.batch.batchHook = func(int) { taken <- struct{}{} }
	kept := make(chan error, 1)
	go func() { kept <- db.AddSetting(ctx, "kept", "v") }()
	<-taken
	cctx, cancel := context.WithCancel(ctx)
	left := make(chan error, 1)
	go func() { left <- db.AddSetting(cctx, "abandoned", "v") }()
	for len(db.write.batch.jobs) < 1 {
		runtime.Gosched()
	}
	cancel()
	// The writer is still held: the abandoned caller must not wait for it.
	select {
	case err := <-left:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("abandoned write: got %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second): // a hang, not a speed target
		close(release)
		t.Fatal("a caller whose context ended still waits for the busy writer")
	}
	close(release)
	if err := <-kept; err != nil {
		t.Fatalf("kept write: %v", err)
	}
	if _, err := db.Setting(ctx, "abandoned"); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("the abandoned write was applied (got %v)", err)
	}
	if v, err := db.Setting(ctx, "kept"); err != nil || v != "v" {
		t.Errorf("kept write: %q, %v", v, err)
	}
}

// TestGroupCommitChainsInOneBatch queues claims that carry events (chains)
// amid other writes while the writer is busy, so that they commit as one
// batch: a won claim keeps its events, a lost claim stores none, and a
// chain whose event fails on a constraint is undone whole (its claim too)
// without undoing anyone else's write.
func TestGroupCommitChainsInOneBatch(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "gc.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, id := range []string{"won", "lost", "undone"} {
		if err := db.CreateUser(ctx, auth.User{ID: id, Email: id + "@example.com", PasswordHash: "h"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.AddEvent(ctx, auth.Event{ID: "taken", Type: "x", UserID: "undone"}); err != nil {
		t.Fatal(err)
	}
	release, batches := holdWriter(db)

	var zero time.Time
	ev := func(id, user string) auth.Event { return auth.Event{ID: id, Type: auth.Event2FAFailed, UserID: user} }
	type outcome struct {
		won bool
		err error
	}
	var wg sync.WaitGroup
	var won, lost, undone outcome
	var setting error
	// The first write is taken alone and waits for the writer; the chains
	// queue behind it and make the next batch.
	wg.Go(func() { setting = db.AddSetting(ctx, "before", "v") })
	for len(batches()) != 1 {
		runtime.Gosched()
	}
	wg.Go(func() {
		won.won, won.err = db.ClaimAttempt(ctx, "won", 0, zero, 1, zero, ev("w1", "won"), ev("w2", "won"))
	})
	wg.Go(func() { lost.won, lost.err = db.ClaimAttempt(ctx, "lost", 3, zero, 4, zero, ev("l1", "lost")) })
	wg.Go(func() {
		undone.won, undone.err = db.ClaimAttempt(ctx, "undone", 0, zero, 1, zero, ev("u1", "undone"), ev("taken", "undone"))
	})
	for len(db.write.batch.jobs) < 3 {
		runtime.Gosched()
	}
	release()
	wg.Wait()
	if sizes := batches(); !slices.Equal(sizes, []int{1, 3}) {
		t.Errorf("batches %v: want the chains in one batch after the first write", sizes)
	}

	if setting != nil {
		t.Errorf("setting in the same batch: %v", setting)
	}
	if !won.won || won.err != nil {
		t.Errorf("claim that should win: %v, %v", won.won, won.err)
	}
	if lost.won || lost.err != nil {
		t.Errorf("claim that should lose: %v, %v", lost.won, lost.err)
	}
	if undone.err == nil {
		t.Errorf("claim whose event cannot be stored: got no error")
	}
	evs, err := db.Events(ctx, auth.EventFilter{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range evs {
		ids = append(ids, e.ID)
	}
	slices.Sort(ids)
	if want := []string{"taken", "w1", "w2"}; !slices.Equal(ids, want) {
		t.Errorf("events: got %q, want %q", ids, want)
	}
	for id, want := range map[string]int{"won": 1, "lost": 0, "undone": 0} {
		u, err := db.UserByID(ctx, id)
		if err != nil || u.FailedAttempts != want {
			t.Errorf("user %s: failed attempts %d (%v), want %d", id, u.FailedAttempts, err, want)
		}
	}
	if _, err := db.Setting(ctx, "before"); err != nil {
		t.Errorf("setting in the same batch: %v", err)
	}
}

// holdWriter holds db's writer connection until release is called, so that
// writes queue up behind it; batches gives the size of each batch the
// committer has taken so far.
// waitQueued waits until n writes are queued or taken while holdWriter
// holds the writer (a batch taken waits for the connection); false after a
// minute without.
func waitQueued(db *DB, batches func() []int, n int) bool {
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); runtime.Gosched() {
		taken := 0
		for _, b := range batches() {
			taken += b
		}
		if taken+len(db.write.batch.jobs) == n {
			return true
		}
	}
	return false
}

func holdWriter(db *DB) (release func(), batches func() []int) {
	var mu sync.Mutex
	var sizes []int
	db.write.batch.batchHook = func(n int) { mu.Lock(); sizes = append(sizes, n); mu.Unlock() }
	done := make(chan struct{})
	held := make(chan struct{})
	go db.tx(context.Background(), "hold", func(*sql.Tx) error { close(held); <-done; return nil })
	<-held
	return func() { close(done) }, func() []int { mu.Lock(); defer mu.Unlock(); return slices.Clone(sizes) }
}

// waitInSQL is what the SQL function twofold_test_wait() does: it tells
// entered it is running, then waits for release, all inside a statement
// that holds the writer connection.
var waitInSQL struct {
	entered, release chan struct{}
}

func init() {
	sqlite.MustRegisterScalarFunction("twofold_test_wait", 0, func(*sqlite.FunctionContext, []driver.Value) (driver.Value, error) {
		waitInSQL.entered <- struct{}{}
		<-waitInSQL.release
		return int64(2), nil
	})
}

// TestWriteResultsAreReadWithoutTheConnection: a caller reads its write's
// result (rows affected, last insert id) while another statement holds the
// writer connection, instead of waiting for it. database/sql's own result
// locks the connection to answer, so every request waited for the next
// batch too, its commit included.
func TestWriteResultsAreReadWithoutTheConnection(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "res.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.write.ExecContext(ctx, "CREATE TABLE t (x INTEGER)"); err != nil {
		t.Fatal(err)
	}
	// Results from a batch of several and from a write alone.
	release, batches := holdWriter(db)
	results := make([]sql.Result, 3)
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() {
			var err error
			if results[i], err = db.write.ExecContext(ctx, "INSERT INTO t VALUES (?)", i); err != nil {
				t.Error(err)
			}
		})
	}
	if !waitQueued(db, batches, len(results)) {
		release()
		t.Fatal("the inserts were not queued")
	}
	release()
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	if got := batches(); slices.Max(got) < 2 {
		t.Fatalf("batch sizes %v: no inserts committed together", got)
	}
	alone, err := db.write.ExecContext(ctx, "UPDATE t SET x = x + 10 WHERE x < 2")
	if err != nil {
		t.Fatal(err)
	}

	waitInSQL.entered, waitInSQL.release = make(chan struct{}), make(chan struct{})
	blocked := make(chan error, 1)
	go func() {
		_, err := db.write.ExecContext(ctx, "UPDATE t SET x = twofold_test_wait() WHERE x = 2")
		blocked <- err
	}()
	select { // the statement runs, holding the writer connection
	case <-waitInSQL.entered:
	case err := <-blocked:
		t.Fatalf("the waiting statement ended without waiting: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("the waiting statement did not start")
	}

	read := make(chan [3]int64, 1)
	go func() {
		var n1, maxID int64
		for _, r := range results {
			n, _ := r.RowsAffected()
			id, _ := r.LastInsertId()
			n1, maxID = n1+n, max(maxID, id)
		}
		n2, _ := alone.RowsAffected()
		read <- [3]int64{n1, n2, maxID}
	}()
	select {
	case got := <-read:
		if got != [3]int64{3, 2, 3} {
			t.Errorf("rows affected by the inserts and the update, last insert id = %v, want [3 2 3]", got)
		}
	case <-time.After(10 * time.Second):
		t.Error("reading a result waited for the statement holding the writer connection")
	}
	close(waitInSQL.release)
	if err := <-blocked; err != nil {
		t.Fatal(err)
	}
}
