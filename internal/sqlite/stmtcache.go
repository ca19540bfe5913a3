package sqlite

import (
	"context"
	"database/sql"
	"sync"
)

// pool is a connection pool whose Exec and Query calls reuse prepared
// statements: SQLite compiles a statement in tens of microseconds, more
// than running one of ours, and modernc's driver compiles it again on
// every call. Each distinct query string is prepared once per connection
// (database/sql's Stmt does that) and kept until Close; queries beyond
// maxCached distinct strings run unprepared, so a query built from input
// can never grow the cache without bound.
type pool struct {
	*sql.DB

	mu    sync.RWMutex
	stmts map[string]*sql.Stmt

	// batch, on the writer pool, runs ExecContext through group commit.
	batch *committer
}

const maxCached = 256

func newPool(db *sql.DB) *pool {
	return &pool{DB: db, stmts: map[string]*sql.Stmt{}}
}

// cached returns the prepared statement for query, or nil when it has not
// been prepared.
func (p *pool) cached(query string) *sql.Stmt {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.stmts[query]
}

// stmt returns the prepared statement for query, or nil when the cache is
// full. A query that fails to prepare gives its error.
func (p *pool) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	p.mu.RLock()
	st, ok := p.stmts[query]
	full := len(p.stmts) >= maxCached
	p.mu.RUnlock()
	if ok {
		return st, nil
	}
	if full {
		return nil, nil
	}
	// Prepared without the lock held: preparing waits for a connection,
	// which a caller holding one (iterating rows) may need the lock to free.
	st, err := p.DB.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if prev, ok := p.stmts[query]; ok {
		st.Close() // another caller prepared it meanwhile
		return prev, nil
	}
	if len(p.stmts) >= maxCached {
		st.Close()
		return nil, nil
	}
	p.stmts[query] = st
	return st, nil
}

// ExecContext is sql.DB's, with a prepared statement, through group
// commit on the writer pool (groupcommit.go).
func (p *pool) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if p.batch != nil {
		return p.batch.exec(ctx, []stmt{{query, args}})
	}
	return p.directExec(ctx, query, args...)
}

// ExecChain runs stmts on the writer pool, all or nothing: if one changes no
// row, none is kept and the result says no row was affected; otherwise it
// is the first one's. Conditional writes that stand or fall together.
func (p *pool) ExecChain(ctx context.Context, stmts ...stmt) (sql.Result, error) {
	return p.batch.exec(ctx, stmts)
}

// directExec runs one statement in a transaction of its own.
func (p *pool) directExec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := p.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return p.DB.ExecContext(ctx, query, args...)
	}
	return st.ExecContext(ctx, args...)
}

// QueryContext is sql.DB's, with a prepared statement. A query runs to its
// end once started (see uncancelled).
func (p *pool) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ctx = uncancelled(ctx)
	st, err := p.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return p.DB.QueryContext(ctx, query, args...)
	}
	return st.QueryContext(ctx, args...)
}

// QueryRowContext is sql.DB's, with a prepared statement. A query runs to
// its end once started (see uncancelled).
func (p *pool) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if ctx.Err() != nil {
		return p.DB.QueryRowContext(ctx, query, args...) // reports the context's error
	}
	ctx = uncancelled(ctx)
	st, err := p.stmt(ctx, query)
	if err != nil || st == nil {
		// An unprepared query reports a preparation error itself, through Row.
		return p.DB.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// uncancelled is ctx without its cancellation, for a query on a local file
// that takes microseconds. With a cancellable context, every query costs
// two goroutines (modernc's interrupt watcher, database/sql's Rows
// watcher) and a progress handler set and unset: more than the query. A
// request whose context has ended still stops before its next query.
func uncancelled(ctx context.Context) context.Context {
	if ctx.Done() == nil {
		return ctx
	}
	return context.WithoutCancel(ctx)
}

// Close finishes queued writes, closes the statements, then the pool.
func (p *pool) Close() error {
	if p.batch != nil {
		p.batch.stop()
	}
	p.mu.Lock()
	for q, st := range p.stmts {
		st.Close()
		delete(p.stmts, q)
	}
	p.mu.Unlock()
	return p.DB.Close()
}
