package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"sync/atomic"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Group commit. Every single-statement write (the writer pool's
// ExecContext: each conditional write, claim and event insert) and every
// chain (ExecChain: conditional writes that stand or fall together, such as
// a claimed attempt and its events) is queued to one goroutine, which runs
// whatever has queued up as one transaction: one commit and one fsync for
// many requests instead of one each. Nothing waits to fill a batch: a batch
// is what queued while the previous one committed, so an idle server
// commits each write at once.
//
// What stays exactly as before:
//   - Each statement runs alone on the one writer connection, in queue
//     order, and sees every statement before it: a compare-and-set in a
//     batch is as strong as in its own transaction.
//   - Each caller gets its result only after the batch's COMMIT returned
//     (synchronous=FULL: durable), or the error of its own statement.
//   - A statement that fails on a constraint is undone alone (SQLite's
//     statement rollback, the ABORT default) and the batch goes on; a chain
//     runs inside a savepoint, so a constraint failure anywhere in it undoes
//     the whole chain and nothing else.
//   - A chain is all or nothing: its statements run one after another, and
//     if one changes no row, what the chain did is undone and its caller
//     told that it lost (no row affected). Any
//     other failure, or a failed BEGIN or COMMIT, rolls the whole batch
//     back and runs each of its statements again in a transaction of its
//     own, so one failure never becomes another caller's.
//   - A caller whose context ends while its statement is still queued
//     leaves at once and the statement is never run; once the committer has
//     taken it (just before running it), the caller waits for the commit.
//     So a statement is either applied and reported, or not applied.

// maxBatch bounds the statements in one transaction.
const maxBatch = 256

// stmt is one statement and its arguments.
type stmt struct {
	query string
	args  []any
}

type writeJob struct {
	ctx context.Context
	// stmts is one statement, or a chain: all or nothing, and nothing when
	// one of them changes no row. The caller gets the first one's result
	// (a chain that lost: no row affected).
	stmts []stmt
	done  chan writeResult
	// state is queued, then taken by the committer or abandoned by its
	// caller, whichever comes first.
	state *atomic.Int32
}

const (
	jobQueued int32 = iota
	jobTaken
	jobAbandoned
)

// take claims j for running; false when its caller has left.
func (j writeJob) take() bool {
	return j.state.CompareAndSwap(jobQueued, jobTaken) || j.state.Load() == jobTaken
}

type writeResult struct {
	res sql.Result
	err error
}

// committer runs the writer pool's statements in batches.
type committer struct {
	pool *pool
	jobs chan writeJob
	quit chan struct{}
	wg   sync.WaitGroup
	// mu is held shared while queueing and exclusively by stop, so no
	// statement is queued after the goroutine has drained the queue.
	mu     sync.RWMutex
	closed bool

	batchHook func(n int) // tests only: called with each batch's size
}

func newCommitter(p *pool) *committer {
	c := &committer{pool: p, jobs: make(chan writeJob, maxBatch), quit: make(chan struct{})}
	c.wg.Add(1)
	go c.run()
	return c
}

var errClosed = errors.New("sqlite: database closed")

// exec queues statements (one, or a chain) and waits for the durable
// result of the first.
func (c *committer) exec(ctx context.Context, stmts []stmt) (sql.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	j := writeJob{ctx: ctx, stmts: stmts, done: make(chan writeResult, 1), state: new(atomic.Int32)}
	c.mu.RLock()
	if c.closed {
		c.mu.RUnlock()
		return nil, errClosed
	}
	select {
	case c.jobs <- j:
	case <-ctx.Done():
		c.mu.RUnlock()
		return nil, ctx.Err()
	}
	c.mu.RUnlock()
	select {
	case r := <-j.done:
		return r.res, r.err
	case <-ctx.Done():
		if j.state.CompareAndSwap(jobQueued, jobAbandoned) {
			return nil, ctx.Err() // never run
		}
		// Taken: it runs now or has run; its batch is short.
		r := <-j.done
		return r.res, r.err
	}
}

// stop finishes the queued statements and ends the goroutine.
func (c *committer) stop() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.mu.Unlock()
	close(c.quit)
	c.wg.Wait()
}

func (c *committer) run() {
	defer c.wg.Done()
	batch := make([]writeJob, 0, maxBatch)
	for {
		select {
		case j := <-c.jobs:
			batch = append(batch[:0], j)
		case <-c.quit:
			// Callers that queued before quit still get an answer.
			for {
				select {
				case j := <-c.jobs:
					c.alone(j)
				default:
					return
				}
			}
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case j := <-c.jobs:
				batch = append(batch, j)
			default:
				break fill
			}
		}
		if c.batchHook != nil {
			c.batchHook(len(batch))
		}
		c.prepare(batch)
		if len(batch) == 1 {
			c.alone(batch[0])
			continue
		}
		c.together(batch)
	}
}

// Statements that bracket a chain in a batch.
const (
	savepoint  = "SAVEPOINT chain"
	release    = "RELEASE chain"
	rollbackTo = "ROLLBACK TO chain"
)

// prepare makes sure the batch's statements are prepared before its
// transaction holds the one writer connection (preparing needs it).
func (c *committer) prepare(batch []writeJob) {
	ctx := context.Background()
	chains := false
	for _, j := range batch {
		for _, st := range j.stmts {
			_, _ = c.pool.stmt(ctx, st.query) // a failure shows when it runs
		}
		chains = chains || len(j.stmts) > 1
	}
	if chains {
		for _, q := range []string{savepoint, release, rollbackTo} {
			_, _ = c.pool.stmt(ctx, q)
		}
	}
}

// execer runs one statement: on a transaction, or on its own.
type execer func(ctx context.Context, st stmt) (sql.Result, error)

// onTx runs statements on tx, prepared ones as such. Each prepared
// statement is bound to tx once, however many of the batch's jobs run it.
func (c *committer) onTx(tx *sql.Tx) execer {
	bound := map[string]*sql.Stmt{}
	return func(ctx context.Context, s stmt) (sql.Result, error) {
		st := bound[s.query]
		// Only an already prepared statement: preparing one would wait for
		// the writer connection, which this transaction holds.
		if st == nil {
			if prepared := c.pool.cached(s.query); prepared != nil {
				st = tx.StmtContext(ctx, prepared)
				bound[s.query] = st
			}
		}
		if st == nil {
			return settled(tx.ExecContext(ctx, s.query, s.args...))
		}
		return settled(st.ExecContext(ctx, s.args...))
	}
}

// settled reads res while the committer still holds the connection.
// database/sql's own Result locks the connection to answer, so a caller
// asking it after the batch would wait for whatever batch holds the
// connection then, its commit and fsync included: under load every
// request waited for one more batch than its own (docs/performance.md).
func settled(res sql.Result, err error) (sql.Result, error) {
	if err != nil {
		return nil, err
	}
	rows, err := res.RowsAffected()
	if err != nil {
		return nil, err
	}
	id, err := res.LastInsertId()
	if err != nil {
		return nil, err
	}
	return execResult{lastID: id, rows: rows}, nil
}

// execResult is a statement's result, read when it ran.
type execResult struct{ lastID, rows int64 }

func (r execResult) LastInsertId() (int64, error) { return r.lastID, nil }
func (r execResult) RowsAffected() (int64, error) { return r.rows, nil }

// chain runs stmts in order while each changes a row. It returns the
// first one's result, or lost when one changed none: the caller must then
// undo what ran.
func chain(ctx context.Context, exec execer, stmts []stmt) (res sql.Result, lost bool, err error) {
	for i, st := range stmts {
		r, err := exec(ctx, st)
		if err != nil {
			return nil, false, err
		}
		n, err := r.RowsAffected()
		if err != nil {
			return nil, false, err
		}
		if n == 0 {
			return noRows{lost: i}, true, nil
		}
		if i == 0 {
			res = r
		}
	}
	return res, false, nil
}

// noRows is the result of a chain that lost: its statement lost (counted
// from 0) changed no row.
type noRows struct{ lost int }

// lostAt is the index of the statement that changed no row in a chain that
// lost, or -1 when res is not such a chain's.
func lostAt(res sql.Result) int {
	if nr, ok := res.(noRows); ok {
		return nr.lost
	}
	return -1
}

func (noRows) LastInsertId() (int64, error) { return 0, nil }
func (noRows) RowsAffected() (int64, error) { return 0, nil }

// alone runs j in a transaction of its own.
func (c *committer) alone(j writeJob) {
	if !j.take() {
		return // the caller left before it ran
	}
	if err := j.ctx.Err(); err != nil {
		j.done <- writeResult{err: err}
		return
	}
	ctx := context.WithoutCancel(j.ctx)
	if len(j.stmts) == 1 {
		res, err := settled(c.pool.directExec(ctx, j.stmts[0].query, j.stmts[0].args...))
		j.done <- writeResult{res, err}
		return
	}
	tx, err := c.pool.DB.BeginTx(ctx, nil)
	if err != nil {
		j.done <- writeResult{err: err}
		return
	}
	res, lost, err := chain(ctx, c.onTx(tx), j.stmts)
	switch {
	case err != nil:
		tx.Rollback()
		res = nil
	case lost:
		err = tx.Rollback()
	default:
		err = tx.Commit()
	}
	if err != nil {
		tx.Rollback()
		res = nil
	}
	j.done <- writeResult{res, err}
}

// together runs batch in one transaction, or, if that fails other than on
// a constraint, each job alone.
func (c *committer) together(batch []writeJob) {
	ctx := context.Background()
	results := make([]writeResult, len(batch))
	ok := func() bool {
		tx, err := c.pool.DB.BeginTx(ctx, nil)
		if err != nil {
			return false
		}
		exec := c.onTx(tx)
		for i, j := range batch {
			if !j.take() {
				results[i] = writeResult{err: context.Canceled} // nobody waits for it
				continue
			}
			if err := j.ctx.Err(); err != nil {
				results[i] = writeResult{err: err}
				continue
			}
			var res sql.Result
			var err error
			if len(j.stmts) == 1 {
				res, err = exec(ctx, j.stmts[0])
			} else {
				res, err = c.savepointed(ctx, exec, j.stmts)
			}
			if err != nil && !isConstraint(err) {
				tx.Rollback()
				return false
			}
			results[i] = writeResult{res, err}
		}
		if err := tx.Commit(); err != nil {
			tx.Rollback()
			return false
		}
		return true
	}()
	if !ok {
		for _, j := range batch {
			c.alone(j)
		}
		return
	}
	for i, j := range batch {
		j.done <- results[i]
	}
}

var errBatch = errors.New("sqlite: batch failed")

// savepointed runs a chain inside a savepoint of the batch's transaction:
// when it loses or fails on a constraint it is undone (and that error
// returned); any other failure ends the batch.
func (c *committer) savepointed(ctx context.Context, exec execer, stmts []stmt) (sql.Result, error) {
	if _, err := exec(ctx, stmt{query: savepoint}); err != nil {
		return nil, errBatch
	}
	res, lost, err := chain(ctx, exec, stmts)
	if err != nil && !isConstraint(err) {
		return nil, errBatch
	}
	if err != nil || lost {
		if _, rerr := exec(ctx, stmt{query: rollbackTo}); rerr != nil {
			return nil, errBatch
		}
	}
	if _, rerr := exec(ctx, stmt{query: release}); rerr != nil {
		return nil, errBatch
	}
	return res, err
}

// isConstraint reports whether err is a constraint violation, which SQLite
// undoes by itself without ending the transaction.
func isConstraint(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_CONSTRAINT
}
