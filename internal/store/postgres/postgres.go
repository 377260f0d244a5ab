// Package postgres is the PostgreSQL hub.Store: the hub's state in a
// database that several hubs may share, through jackc/pgx (pgxpool), with the
// schema in the migrations package applied by Migrate (jackc/tern).
//
// # Tenancy and row-level security
//
// Every query filters on the tenant explicitly, and row-level security is
// the second lock: every table has policies that show a row only to a
// transaction scoped to its tenant, set with
// set_config('proxyhub.tenant', id, true) (transaction-local). Each method
// sends the set_config and its statements in one pipeline, which PostgreSQL
// runs as one (implicit) transaction, so a scope never outlives the call and
// costs no extra round trip. The cross-tenant reads are narrow scopes of
// their own (see migrations/002): TokenByHash may see only the token whose
// hash it names, CredentialByID only the credential whose id it names, and
// ListTenants reads the tenant list in the 'platform' scope. The sweep
// (ExpireProxies, NextDeadline) runs in the 'sweeper' scope and DueWebhooks
// in the read-only 'dispatcher' scope (migrations/004 to 006). A connection
// that set no scope sees no rows at all.
//
// The policies are FORCEd, so they hold for the tables' owner too, but
// the store should connect as the application role that GrantAppRole
// prepares, which owns nothing and so cannot switch them off. PostgreSQL
// never applies row-level security to superusers or BYPASSRLS roles: Open
// refuses them unless Options.AllowBypassRLS is set. Tests do the same:
// internal/pgtest creates an ordinary role that owns each test database,
// and an application role (pgtest.AppURL) granted as in production.
//
// # Writes
//
// RecordHeartbeat goes through a group commit: concurrent heartbeats are
// collected into batches (up to Options.BatchMax, or what arrived within
// Options.BatchWait) and each batch is written in one transaction whose
// statements are pipelined; every caller is answered after that
// transaction commits. Whether a heartbeat changed the proxy's IP is decided
// by the database, under the proxy row's lock, in the statement that applies
// it, so hubs sharing a database record each change exactly once.
//
// The audit tables (ip_changes, denied) and the event stream (events) are
// append-only: UPDATE, DELETE and TRUNCATE are revoked and refused by
// triggers. The webhook delivery log is too, except that deleting a webhook
// deletes its log (ON DELETE CASCADE).
//
// # Liveness and events
//
// Each proxy keeps its state (online, offline), a pause flag, its own
// timeout override and its deadline (last heartbeat + effective timeout,
// kept in the row as timeout_ms). A heartbeat sets the deadline and brings
// an offline proxy back online, decided under the row's lock like an IP
// change. ExpireProxies flips expired proxies across tenants in the
// 'sweeper' scope through the partial index proxies_due (online, unpaused,
// by check_at, a time never after the deadline), with FOR UPDATE SKIP
// LOCKED, so a sweep costs what is due and concurrent sweepers never flip
// one proxy twice. Heartbeats move only the deadline, which nothing
// indexes, so their updates are HOT; the sweeper moves a proxy's check_at
// up to its deadline when it visits one that heartbeats kept alive
// (migrations/011).
//
// Events (registered, ip_changed, online, offline, denied) are appended in
// the transaction of what they record. Readers follow a tenant's stream by
// id, so every event writer takes its tenants' event-stream locks before
// inserting (events.go): within a tenant, events become visible in id
// order. The same call queues a NOTIFY on proxyhub_events per tenant,
// which WatchEvents LISTENs to on a connection of its own.
//
// Leader holds a session advisory lock per name on a connection of its own.
// Neither that connection nor the watch's count against the pool.
package postgres

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/proxyhub/proxyhub/internal/hub"
)

// Options tunes a Store. The zero value is usable: every field has a default.
type Options struct {
	// AutoMigrate applies pending migrations when the store opens.
	AutoMigrate bool
	// BatchMax caps the heartbeats written in one transaction (default 256).
	BatchMax int
	// BatchWait is how long the first heartbeat of a batch waits for others
	// to join it (default DefaultBatchWait).
	BatchWait time.Duration
	// LockTimeout bounds each lock wait of a heartbeat batch (default
	// DefaultLockTimeout): a row held by a stalled session costs its
	// heartbeat a 503 after about this long, never the whole batch.
	LockTimeout time.Duration
	// Writers is how many batches may be in flight at once, each on its own
	// connection (default DefaultWriters). The pool's size comes from the
	// URL (pool_max_conns; DefaultMaxConns when it does not say).
	Writers int
	// TokenCacheSize is how many heartbeat tokens TokenByHash keeps
	// (default DefaultTokenCacheSize; negative: none), and TokenCacheTTL
	// for how long (default DefaultTokenCacheTTL). See tokencache.go: a
	// token revoked meanwhile is still refused when a heartbeat is written.
	TokenCacheSize int
	TokenCacheTTL  time.Duration
	// Logger receives warnings and errors (default: discarded).
	Logger *slog.Logger
	// AllowBypassRLS lets Open connect as a superuser or BYPASSRLS role,
	// to which row-level security does not apply (with a warning); without
	// it Open refuses such a role with ErrRLSBypassed. Migrating needs the
	// tables' owner, often a superuser; serving should not.
	AllowBypassRLS bool
	// WarnOwner logs a warning when the role owns the tables: serve
	// should connect as the application role (GrantAppRole).
	WarnOwner bool
}

// Defaults of Options.
const (
	DefaultBatchMax = 256
	// DefaultBatchWait: under wrk at 256 connections on 2 cores, 5 ms
	// gathers ~80 heartbeats a transaction against ~60 at 2 ms, for ~15 %
	// more heartbeats a second and a lower p99; a lone heartbeat waits it
	// out, which a cron line does not notice.
	DefaultBatchWait = 5 * time.Millisecond

	DefaultTokenCacheSize = 100_000
	DefaultTokenCacheTTL  = time.Minute

	// idleInTransactionTimeout is the server-side bound of a transaction
	// whose client stopped talking (idle_in_transaction_session_timeout),
	// unless the URL sets its own.
	idleInTransactionTimeout = "3s"

	// defaultWriteTimeout bounds a batch whose callers set no deadline.
	defaultWriteTimeout = 30 * time.Second
	// DefaultWriters is how many batches are written at once by default.
	// Batches that record events take their tenant's event-stream lock
	// until they commit, so batches of one tenant largely serialize: few,
	// large batches beat many small ones.
	DefaultWriters = 2
	// DefaultMaxConns is the pool size when the URL does not set
	// pool_max_conns.
	DefaultMaxConns = 32
	// defaultConnectTimeout bounds one connection attempt when the URL does
	// not say (connect_timeout).
	defaultConnectTimeout = 5 * time.Second
)

// Store is the PostgreSQL hub.Store. It is safe for concurrent use; Close
// it when done.
type Store struct {
	pool *pgxpool.Pool
	log  *slog.Logger
	opts Options

	tokens          *tokenCache   // nil: none
	tokenWatchReady chan struct{} // closed once revocations are being listened to

	mu     sync.RWMutex // guards closed and sends on queue
	closed bool
	queue  chan *pending   // heartbeats waiting for a batch
	work   chan []*pending // batches waiting for a writer
	wg     sync.WaitGroup  // the batcher and the writers

	done      chan struct{} // closed when Close begins: ends watches, refuses leaderships
	closeOnce sync.Once

	// life is the parent of every batch transaction; abort cancels it,
	// with errAborted, when a bounded Shutdown runs out of time.
	life  context.Context
	abort context.CancelCauseFunc

	lmu     sync.Mutex             // guards leaders
	leaders map[string]*leadership // by name; nil once closed
}

var _ hub.Store = (*Store)(nil)

// Open connects to the database at url (a postgres:// URL or a key=value
// DSN, as pgx accepts), checks that it answers, applies migrations when
// opts.AutoMigrate is set, and starts the heartbeat batcher.
//
// Errors name the server (host, port, database, user) and the cause, never
// the password; an unreachable server is an error wrapping
// hub.ErrUnavailable.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, openError(url, describeURL(url), "invalid database URL", err)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = defaultConnectTimeout
	}
	if !strings.Contains(url, "pool_max_conns") {
		// pgxpool's default (the number of CPUs, at least 4) starves a hub:
		// every heartbeat also authenticates and reads its tenant, and the
		// batch writers hold connections of their own.
		cfg.MaxConns = DefaultMaxConns
	}
	if cfg.ConnConfig.RuntimeParams == nil {
		cfg.ConnConfig.RuntimeParams = map[string]string{}
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"]; !ok {
		// A session that stalls inside a transaction (its hub frozen or
		// cut off) is ended by the server, and the locks it holds are
		// released, instead of holding up the other hubs.
		cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"] = idleInTransactionTimeout
	}
	target := describeConfig(cfg)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, openError(url, target, "cannot connect to", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, openError(url, target, "cannot connect to", err)
	}
	s := newStore(pool, opts)
	role, err := currentRole(ctx, pool)
	if err != nil {
		pool.Close()
		return nil, openError(url, target, "cannot connect to", err)
	}
	if role.BypassesRLS {
		if !opts.AllowBypassRLS {
			pool.Close()
			return nil, openError(url, target, "refusing to serve from",
				fmt.Errorf("role %s: %w; connect as the application role that `proxyhub migrate` prepares (PROXYHUB_ALLOW_SUPERUSER=true overrides)", role.Name, ErrRLSBypassed))
		}
		s.log.Warn("postgres: connected as a superuser or BYPASSRLS role: row-level security is not enforced", "role", role.Name)
	}
	if opts.AutoMigrate {
		if err := s.migrateIfBehind(ctx); err != nil {
			pool.Close()
			return nil, openError(url, target, "cannot migrate", err)
		}
		if role, err = currentRole(ctx, pool); err != nil {
			pool.Close()
			return nil, openError(url, target, "cannot connect to", err)
		}
	}
	if role.OwnsSchema && !role.BypassesRLS && opts.WarnOwner {
		s.log.Warn("postgres: connected as the owner of the tables, which may turn row-level security off; connect as the application role that `proxyhub migrate` prepares", "role", role.Name)
	}
	s.start()
	return s, nil
}

// migrateIfBehind runs Migrate unless the schema is already at the latest
// version, which an application role (not the tables' owner, so unable
// to migrate) can read but not change.
func (s *Store) migrateIfBehind(ctx context.Context) error {
	latest, err := LatestSchemaVersion()
	if err != nil {
		return err
	}
	if v, err := SchemaVersion(ctx, s.pool); err == nil && v == latest {
		return nil
	}
	if err := Migrate(ctx, s.pool); err != nil {
		return fmt.Errorf("%w (run `proxyhub migrate` as the tables' owner)", err)
	}
	return nil
}

func newStore(pool *pgxpool.Pool, opts Options) *Store {
	opts.BatchMax = cmp.Or(max(opts.BatchMax, 0), DefaultBatchMax)
	opts.LockTimeout = cmp.Or(max(opts.LockTimeout, 0), DefaultLockTimeout)
	opts.BatchWait = cmp.Or(max(opts.BatchWait, 0), DefaultBatchWait)
	if opts.Writers <= 0 {
		opts.Writers = DefaultWriters
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.TokenCacheSize == 0 {
		opts.TokenCacheSize = DefaultTokenCacheSize
	}
	opts.TokenCacheTTL = cmp.Or(max(opts.TokenCacheTTL, 0), DefaultTokenCacheTTL)
	life, abort := context.WithCancelCause(context.Background())
	return &Store{
		life:            life,
		abort:           abort,
		pool:            pool,
		tokens:          newTokenCache(opts.TokenCacheSize, opts.TokenCacheTTL),
		tokenWatchReady: make(chan struct{}),
		log:             opts.Logger,
		opts:            opts,
		queue:           make(chan *pending, opts.BatchMax),
		work:            make(chan []*pending),
		done:            make(chan struct{}),
		leaders:         map[string]*leadership{},
	}
}

// Ping implements hub.Store: it reports whether a connection to the
// database answers.
func (s *Store) Ping(ctx context.Context) error {
	return translate(s.pool.Ping(ctx), "postgres: ping")
}

// Close implements hub.Store. It releases the leaderships this store
// holds and ends its event watches, stops accepting heartbeats, waits until
// every batch already accepted is written (or has failed), then closes the
// pool. Calls after the first return nil at once.
func (s *Store) Close() error {
	return s.Shutdown(context.Background())
}

// Shutdown is Close bounded by ctx: pending heartbeats are still written,
// but when ctx ends first the batches in flight are cancelled (their
// transactions roll back and their callers get hub.ErrUnavailable) and the
// store closes at once. What was committed stays committed.
//
// Shutdown returns when ctx ends even if closing is not finished: with
// the database unreachable, closing waits on the network (releasing a
// leadership, and above all the pool's close, which waits up to 15 s per
// connection for the cancel request of each aborted query). That goes on
// in the background; the caller is about to exit.
func (s *Store) Shutdown(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { s.abort(errAborted) })
	defer stop()
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		s.closeOnce.Do(func() {
			close(s.done)
			s.closeLeaderships()
			s.mu.Lock()
			s.closed = true
			close(s.queue)
			s.mu.Unlock()
			s.wg.Wait()
			s.pool.Close()
			s.abort(errClosed)
		})
	}()
	select {
	case <-closed:
		return nil
	case <-ctx.Done():
		s.abort(errAborted)
		return fmt.Errorf("postgres: closing the store did not finish in time: %w", context.Cause(ctx))
	}
}

// errAborted ends the batches still in flight when a bounded Shutdown
// runs out of time.
var errAborted = fmt.Errorf("postgres: the store is shutting down: %w", hub.ErrUnavailable)

// errClosed is returned by RecordHeartbeat after Close.
var errClosed = fmt.Errorf("postgres: store is closed: %w", hub.ErrUnavailable)

// Pool returns the store's connection pool, for callers that need the
// database itself (migrations, advisory locks). Statements sent through it
// are subject to row-level security like the store's own.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }
