// Package sqlite is the embedded durable hub.Store: the hub's state in one
// SQLite database file (modernc.org/sqlite, pure Go, no cgo), owned by one
// process at a time. It is the default store of `proxyhub serve` without a
// database URL, in its data directory.
//
// # Ownership
//
// Open takes an exclusive flock on a lock file beside the database
// (proxyhub.db.lock) and holds it until Close; a second process that opens
// the same database fails with ErrLocked. The kernel drops the lock when the
// process dies, so a crash never leaves the database locked. Because no
// other process writes the file, the store keeps the current state
// (tenants, heartbeat tokens, proxies and their deadlines) in memory as
// well, loaded at Open and changed only after each write commits: reads of
// the current state and every decision of a heartbeat (is the IP new, is
// the token live, is the quota reached) are answered from memory, and the
// history (IP changes, denied heartbeats, events, webhooks and their
// delivery log) is read from the database. Leader always reports true: the
// lock already makes this store the only one.
//
// # Writes and durability
//
// All writes go through one connection (SQLite has one writer at a time),
// in transactions; reads of the history use a small pool of read-only
// connections, which WAL journaling lets run beside the writer.
// RecordHeartbeat goes through a group commit like the PostgreSQL store's:
// concurrent heartbeats are gathered into one transaction (up to
// Options.BatchMax of them; with Options.BatchWait the first waits for
// others while the writer is idle). A caller whose context ends before
// its batch is written is answered with its context's error, and nothing
// of it is written. A heartbeat that creates a proxy, changes its IP or
// brings it back online has the proxy's row written whole, with its
// history and events, and is answered after COMMIT. One that changes
// nothing but the time and the peer (the steady state) is a few bytes of
// the heartbeat log (table heartbeat_log), folded into the proxies rows
// every 30 s, 1,000 rows per transaction between batches, when the store
// opens (after a crash: replayed) and when it closes.
//
// With synchronous NORMAL (the default), a steady-state heartbeat is
// answered as soon as it is decided and applied to the state (by its
// caller when the writer is free, else in a batch of such heartbeats),
// and its log entry is written at most Options.LogFlush (5 ms) later, or
// with the next transaction if that comes first: a steady-state heartbeat
// then costs about what it costs the in-memory store. What a
// crash can lose is the last few milliseconds of last-seen times, never an
// IP change, a registration, an online flip, a token's use or an audit
// record: those are answered after COMMIT. With FULL, or LogFlush
// negative, every heartbeat is answered after its COMMIT.
//
// The database runs with journal_mode=WAL, foreign_keys=ON and a
// busy_timeout. Options.Synchronous chooses when COMMIT reaches the disk:
//
//   - "NORMAL" (the default): a COMMIT is written to the WAL file (the
//     operating system's page cache) without an fsync, which happens at
//     checkpoints. An acknowledged write survives the process being killed
//     (kill -9, a crash of the hub), but an operating system crash or a
//     power loss can undo the transactions committed since the last WAL
//     checkpoint (up to about a thousand pages of writes); the database
//     itself stays consistent.
//   - "FULL": every COMMIT is fsynced before it returns, so an acknowledged
//     write also survives an operating system crash and a power loss. Each
//     batch then waits for the disk: on the 2-core benchmark machine it
//     costs about another quarter to a third of the heartbeat rate (see
//     BenchmarkHeartbeat_Parallel in internal/httpapi).
//
// The audit trail (ip_changes, denied) and the event stream are
// append-only in the database itself: triggers refuse every UPDATE and
// every DELETE of a row younger than a day by the database's clock, so
// only retention (PruneHistory) removes anything. Do not write to the
// database with other tools while a hub has it open: the hub's memory
// would not know.
package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // the database/sql driver "sqlite"

	"github.com/proxyhub/proxyhub/internal/hub"
)

// Options tunes a Store. The zero value is usable: every field has a
// default.
type Options struct {
	// BatchMax caps the heartbeats written in one transaction (default
	// DefaultBatchMax).
	BatchMax int
	// BatchWait is how long the writer, ready for a batch smaller than
	// BatchMax, waits for more heartbeats to join it (default: none
	// with Synchronous NORMAL, DefaultBatchWait with FULL; negative: it
	// does not wait). While the writer writes a batch, the next one
	// queues up anyway.
	BatchWait time.Duration
	// Synchronous is SQLite's synchronous setting for the database:
	// "NORMAL" (default) or "FULL"; see the package documentation for what
	// each keeps across a crash.
	Synchronous string
	// LogFlush is, with Synchronous NORMAL, the longest a steady-state
	// heartbeat answered before its heartbeat log row is written waits
	// for that row (default DefaultLogFlush; negative: every heartbeat is
	// answered after its COMMIT, as always with FULL). See the package
	// documentation.
	LogFlush time.Duration
	// ReadConns is how many read-only connections serve history reads
	// (default DefaultReadConns).
	ReadConns int
	// Logger receives warnings and errors (default: discarded).
	Logger *slog.Logger
}

// Defaults of Options.
const (
	DefaultBatchMax  = 512
	DefaultBatchWait = 200 * time.Microsecond
	DefaultLogFlush  = 5 * time.Millisecond
	// maxSteadyLog bounds the heartbeat log entries answered but not yet
	// written (~17 bytes each): past it, heartbeats wait for COMMIT again.
	maxSteadyLog     = 4 << 20
	DefaultReadConns = 4
	// busyTimeout is how long a statement waits for a lock held by another
	// connection of this process (a checkpoint, a reader) before failing.
	busyTimeout = 5 * time.Second
	// defaultWriteTimeout bounds a write whose callers set no deadline.
	defaultWriteTimeout = 30 * time.Second
)

// Store is the SQLite hub.Store. It is safe for concurrent use; Close it
// when done.
type Store struct {
	path string
	log  *slog.Logger
	opts Options
	lock *fileLock
	wdb  *sql.DB // one connection: every write
	rdb  *sql.DB // read-only connections: history reads
	stmt statements

	// wmu serializes writes: a transaction on wdb and the change of st
	// after it commits. mu guards st (see state).
	wmu sync.Mutex
	mu  sync.RWMutex
	st  *state
	// fold is the checkpoint in progress; wmu guards it.
	fold fold
	// steadyLog holds the heartbeat log entries of steady-state
	// heartbeats already answered and applied to st, not yet written
	// (see Options.LogFlush), and steadySince when its first entry came;
	// wmu guards them.
	steadyLog   []byte
	steadySince time.Time
	// kick tells the writer that steadyLog has entries to write.
	kick chan struct{}

	qmu    sync.RWMutex // guards closed and sends on queue
	closed bool
	queue  chan *pending  // heartbeats waiting for a batch
	wg     sync.WaitGroup // the writer
	batch  batchTx        // the writer's, reused from batch to batch

	watchers watchers
}

var _ hub.Store = (*Store)(nil)

// Open opens (creating it when missing) the database at path, takes its
// lock, applies the schema's migrations, loads the current state (with the
// heartbeat log replayed and folded) and starts the heartbeat writer. The
// directory must exist.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: database path %q: %w", path, err)
	}
	if strings.ContainsAny(abs, "?#") {
		return nil, fmt.Errorf("sqlite: database path %q: must not contain ? or #", abs)
	}
	opts.BatchMax = cmp.Or(max(opts.BatchMax, 0), DefaultBatchMax)
	opts.ReadConns = cmp.Or(max(opts.ReadConns, 0), DefaultReadConns)
	opts.Synchronous = strings.ToUpper(cmp.Or(opts.Synchronous, "NORMAL"))
	if opts.Synchronous != "FULL" && opts.Synchronous != "NORMAL" {
		return nil, fmt.Errorf("sqlite: synchronous %q: want FULL or NORMAL", opts.Synchronous)
	}
	switch {
	case opts.Synchronous == "FULL" || opts.LogFlush < 0:
		opts.LogFlush = 0 // every heartbeat waits for its COMMIT
	case opts.LogFlush == 0:
		opts.LogFlush = DefaultLogFlush
	}
	switch {
	case opts.BatchWait == 0 && opts.LogFlush == 0:
		opts.BatchWait = DefaultBatchWait
	case opts.BatchWait < 0:
		opts.BatchWait = 0
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	lock, err := lockFile(abs + ".lock")
	if err != nil {
		return nil, err
	}
	s := &Store{path: abs, log: opts.Logger, opts: opts, lock: lock}
	s.batch.s = s
	if err := s.open(ctx); err != nil {
		s.closeDBs()
		_ = lock.unlock()
		return nil, err
	}
	s.queue = make(chan *pending, opts.BatchMax)
	s.kick = make(chan struct{}, 1)
	s.wg.Add(1)
	go s.writer()
	return s, nil
}

// open opens the connections, migrates and loads the state.
func (s *Store) open(ctx context.Context) error {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(busyTimeout.Milliseconds(), 10)+")")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous("+s.opts.Synchronous+")")
	q.Set("_txlock", "immediate")
	var err error
	if s.wdb, err = sql.Open("sqlite", s.path+"?"+q.Encode()); err != nil {
		return fmt.Errorf("sqlite: open %s: %w", s.path, err)
	}
	s.wdb.SetMaxOpenConns(1)
	s.wdb.SetMaxIdleConns(1)
	s.wdb.SetConnMaxLifetime(0)
	s.wdb.SetConnMaxIdleTime(0)
	if err := s.wdb.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: open %s: %w", s.path, err)
	}
	if err := migrate(ctx, s.wdb); err != nil {
		return fmt.Errorf("sqlite: %s: %w", s.path, err)
	}
	rq := url.Values{}
	rq.Add("_pragma", "busy_timeout("+strconv.FormatInt(busyTimeout.Milliseconds(), 10)+")")
	rq.Add("_pragma", "query_only(1)")
	if s.rdb, err = sql.Open("sqlite", s.path+"?"+rq.Encode()); err != nil {
		return fmt.Errorf("sqlite: open %s: %w", s.path, err)
	}
	s.rdb.SetMaxOpenConns(s.opts.ReadConns)
	s.rdb.SetMaxIdleConns(s.opts.ReadConns)
	if s.st, err = load(ctx, s.wdb); err != nil {
		return fmt.Errorf("sqlite: load %s: %w", s.path, err)
	}
	if err := s.stmt.prepare(ctx, s.wdb); err != nil {
		return fmt.Errorf("sqlite: prepare statements: %w", err)
	}
	if err := s.checkpoint(ctx); err != nil {
		return fmt.Errorf("sqlite: fold the heartbeat log of %s: %w", s.path, err)
	}
	return nil
}

// Path returns the database file's absolute path.
func (s *Store) Path() string { return s.path }

// Ping implements hub.Store: it reports whether the database answers a
// read.
func (s *Store) Ping(ctx context.Context) error {
	if s.isClosed() {
		return errClosed
	}
	var one int
	return translate(s.rdb.QueryRowContext(ctx, "SELECT 1").Scan(&one), "sqlite: ping")
}

// Close implements hub.Store. It stops accepting heartbeats, waits until
// every batch already accepted is written (or has failed), closes the
// database and releases its lock. Calls after the first return nil.
func (s *Store) Close() error {
	s.qmu.Lock()
	if s.closed {
		s.qmu.Unlock()
		return nil
	}
	s.closed = true
	close(s.queue)
	s.qmu.Unlock()
	s.wg.Wait()
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.watchers.closeAll()
	ctx, cancel := context.WithTimeout(context.Background(), defaultWriteTimeout)
	defer cancel()
	if err := s.flushSteady(ctx); err != nil {
		s.log.Warn("sqlite: writing the answered heartbeats at close failed; the checkpoint writes their proxies", "error", err)
	}
	if err := s.checkpoint(ctx); err != nil {
		s.log.Warn("sqlite: heartbeat log checkpoint at close failed; it is replayed at the next open", "error", err)
	}
	err := s.closeDBs()
	if uerr := s.lock.unlock(); err == nil {
		err = uerr
	}
	return err
}

// closeDBs closes the statements and both connection pools; closing the
// writer last lets SQLite checkpoint the WAL into the database file.
func (s *Store) closeDBs() error {
	s.stmt.close()
	var errs []error
	if s.rdb != nil {
		errs = append(errs, s.rdb.Close())
	}
	if s.wdb != nil {
		errs = append(errs, s.wdb.Close())
	}
	return errors.Join(errs...)
}

func (s *Store) isClosed() bool {
	s.qmu.RLock()
	defer s.qmu.RUnlock()
	return s.closed
}

// update runs one write: fn, in a transaction on the writer connection,
// decides from the state (which it may read: the writer lock is held) and
// writes; it returns what to change in the state once the transaction has
// committed (nil: nothing). apply runs with the state locked. An error of
// fn rolls the transaction back and is returned as it is; fn translates
// its own driver errors.
func (s *Store) update(ctx context.Context, what string, fn func(ctx context.Context, tx *sql.Tx) (apply func(), err error)) error {
	if err := ctx.Err(); err != nil {
		return ctxError(ctx, what)
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.isClosed() {
		return errClosed
	}
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return s.writeError(ctx, err, what)
	}
	apply, err := fn(ctx, tx)
	if err != nil {
		_ = tx.Rollback()
		if ctx.Err() != nil {
			return ctxError(ctx, what)
		}
		return err
	}
	if err := tx.Commit(); err != nil {
		s.reload(what, err)
		return s.writeError(ctx, err, what)
	}
	if apply != nil {
		s.mu.Lock()
		apply()
		s.mu.Unlock()
	}
	return nil
}

// writeError is the error of a write that failed in the database.
func (s *Store) writeError(ctx context.Context, err error, what string) error {
	if ctx.Err() != nil {
		return ctxError(ctx, what)
	}
	return translate(err, what)
}

// reload reads the state from the database again after a COMMIT failed:
// whatever the database kept is the truth. The writer lock must be held.
func (s *Store) reload(what string, cause error) {
	s.log.Error("sqlite: commit failed; reloading the state from the database", "op", what, "error", cause)
	ctx, cancel := context.WithTimeout(context.Background(), defaultWriteTimeout)
	defer cancel()
	st, err := load(ctx, s.wdb)
	if err != nil {
		s.log.Error("sqlite: cannot reload the state; keeping the one in memory", "error", err)
		return
	}
	s.mu.Lock()
	s.st = st
	s.mu.Unlock()
	s.fold = fold{} // its rows are the old state's; the new one has them dirty
	// Answered steady-state heartbeats not yet written are gone with the
	// state they moved: the proxies' last-seen times go back to what the
	// database kept.
	s.steadyLog = s.steadyLog[:0]
}
