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
// ExecContext: each conditional write, claim and event insert) is queued to
// one goroutine, which runs whatever has queued up as one transaction: one
// commit and one fsync for many requests instead of one each. Nothing
// waits to fill a batch: a batch is what queued while the previous one
// committed, so an idle server commits each write at once.
//
// What stays exactly as before:
//   - Each statement runs alone on the one writer connection, in queue
//     order, and sees every statement before it: a compare-and-set in a
//     batch is as strong as in its own transaction.
//   - Each caller gets its result only after the batch's COMMIT returned
//     (synchronous=FULL: durable), or the error of its own statement.
//   - A statement that fails on a constraint is undone alone (SQLite's
//     statement rollback, the ABORT default) and the batch goes on. Any
//     other failure, or a failed BEGIN or COMMIT, rolls the whole batch
//     back and runs each of its statements again in a transaction of its
//     own, so one failure never becomes another caller's.
//   - A caller whose context ends while its statement is still queued
//     leaves at once and the statement is never run; once the committer has
//     taken it (just before running it), the caller waits for the commit.
//     So a statement is either applied and reported, or not applied.

// maxBatch bounds the statements in one transaction.
const maxBatch = 256

type writeJob struct {
	ctx   context.Context
	query string
	args  []any
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

// exec queues one statement and waits for its durable result.
func (c *committer) exec(ctx context.Context, query string, args []any) (sql.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	j := writeJob{ctx: ctx, query: query, args: args, done: make(chan writeResult, 1), state: new(atomic.Int32)}
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
		if len(batch) == 1 {
			c.alone(batch[0])
			continue
		}
		c.together(batch)
	}
}

// alone runs j in a transaction of its own (autocommit).
func (c *committer) alone(j writeJob) {
	if !j.take() {
		return // the caller left before it ran
	}
	if err := j.ctx.Err(); err != nil {
		j.done <- writeResult{err: err}
		return
	}
	res, err := c.pool.directExec(context.WithoutCancel(j.ctx), j.query, j.args...)
	j.done <- writeResult{res, err}
}

// together runs batch in one transaction, or, if that fails other than on
// a constraint, each statement alone.
func (c *committer) together(batch []writeJob) {
	ctx := context.Background()
	results := make([]writeResult, len(batch))
	ok := func() bool {
		tx, err := c.pool.DB.BeginTx(ctx, nil)
		if err != nil {
			return false
		}
		for i, j := range batch {
			if !j.take() {
				results[i] = writeResult{err: context.Canceled} // nobody waits for it
				continue
			}
			if err := j.ctx.Err(); err != nil {
				results[i] = writeResult{err: err}
				continue
			}
			// Only an already prepared statement: preparing one would wait
			// for the writer connection, which this transaction holds.
			var res sql.Result
			var err error
			if st := c.pool.cached(j.query); st != nil {
				res, err = tx.StmtContext(ctx, st).ExecContext(ctx, j.args...)
			} else {
				res, err = tx.ExecContext(ctx, j.query, j.args...)
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

// isConstraint reports whether err is a constraint violation, which SQLite
// undoes by itself without ending the transaction.
func isConstraint(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_CONSTRAINT
}
