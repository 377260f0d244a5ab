package postgres

import (
	"context"
	"maps"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// leaderKeySpace is the first key of the leadership advisory locks (the
// two-int form: 'phld'), the second being hashtext(name). The two-int key
// space is distinct from the bigint one tern's migration lock uses, and
// the event-stream locks (migrations/004) use another first key.
const leaderKeySpace = 1885891684

// dedicatedConnTimeout bounds connecting a dedicated connection (leadership,
// the event watch) when the caller's context sets no deadline.
const dedicatedConnTimeout = 10 * time.Second

// leaderIdleTimeout is the server-side idle_session_timeout of a
// leadership connection: a session that sends nothing for this long is
// ended by the server, and its lock with it. The holder sends a keep-alive
// every leaderKeepAlive; a frozen or cut-off holder sends none, so another
// instance takes over within about leaderIdleTimeout.
const (
	leaderIdleTimeout = "3s"
	leaderKeepAlive   = time.Second
)

// leadership is one named leadership of this store: a connection of its
// own (never the pool's: a session lock must stay with one session, and the
// pool closes and shares connections) on which the lock is held or tried.
type leadership struct {
	mu   sync.Mutex
	conn *pgx.Conn // nil: none yet, or dropped
	held bool      // the session lock is held on conn
	// stopKeepAlive ends the keep-alive of the held lock (nil: none runs).
	stopKeepAlive context.CancelFunc
}

// Leader implements hub.LivenessStore with a session advisory lock,
// pg_try_advisory_lock(leaderKeySpace, hashtext(name)), on a connection the
// store keeps for that name. While it holds the lock, each call checks
// that the connection is alive (a round trip): if it died, the lock died
// with it, and the call drops it and tries again on a new connection. A
// follower keeps its connection and tries again at each call. Close
// releases every lock (it closes the connections), so another instance
// takes the leadership at its next call; an instance that dies without
// closing releases it when the server notices the session is gone.
func (s *Store) Leader(ctx context.Context, name string) (bool, error) {
	const what = "postgres: leadership"
	l, err := s.leadershipOf(name)
	if err != nil {
		return false, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if s.isClosed() {
		return false, errClosed
	}
	for attempt := 1; ; attempt++ {
		lead, err := l.try(ctx, s, name)
		if err == nil {
			return lead, nil
		}
		wasHeld := l.held
		l.drop()
		if wasHeld {
			s.log.Warn("postgres: the connection holding a leadership failed: leadership lost", "name", name, "error", err)
		}
		if ctx.Err() != nil || attempt == 2 {
			return false, translate(err, what)
		}
	}
}

// try checks or takes the lock on l's connection, connecting first when
// there is none. l.mu is held.
func (l *leadership) try(ctx context.Context, s *Store, name string) (bool, error) {
	if l.conn == nil {
		conn, err := s.dedicatedConn(ctx, "proxyhub-leader", map[string]string{"idle_session_timeout": leaderIdleTimeout})
		if err != nil {
			return false, err
		}
		l.conn = conn
	}
	if l.held {
		if err := l.conn.Ping(ctx); err != nil {
			return false, err
		}
		return true, nil
	}
	var got bool
	if err := l.conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1, hashtext($2))`, leaderKeySpace, name).Scan(&got); err != nil {
		return false, err
	}
	l.held = got
	if got {
		kctx, stop := context.WithCancel(context.Background())
		l.stopKeepAlive = stop
		go l.keepAlive(kctx, s, name)
	}
	return got, nil
}

// keepAlive pings the held lock's connection every leaderKeepAlive until
// ctx ends, so the server's idle_session_timeout ends the session only
// when this process stops talking. A failed ping drops the leadership;
// the next Leader call tries again.
func (l *leadership) keepAlive(ctx context.Context, s *Store, name string) {
	t := time.NewTicker(leaderKeepAlive)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		l.mu.Lock()
		if ctx.Err() != nil || !l.held {
			l.mu.Unlock()
			return
		}
		pctx, cancel := context.WithTimeout(ctx, leaderKeepAlive)
		err := l.conn.Ping(pctx)
		cancel()
		if err != nil && ctx.Err() == nil {
			s.log.Warn("postgres: the connection holding a leadership failed: leadership lost", "name", name, "error", err)
			l.drop()
		}
		l.mu.Unlock()
	}
}

// drop releases the lock if l holds it and closes l's connection. The
// explicit unlock makes the release immediate (the session's end, which
// releases it too, is processed by the server after Close returns), so
// another instance leads at its very next call. l.mu is held.
func (l *leadership) drop() {
	if l.stopKeepAlive != nil {
		l.stopKeepAlive()
		l.stopKeepAlive = nil
	}
	if l.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		if l.held && !l.conn.IsClosed() {
			_, _ = l.conn.Exec(ctx, `SELECT pg_advisory_unlock_all()`)
		}
		_ = l.conn.Close(ctx)
		cancel()
	}
	l.conn, l.held = nil, false
}

// leadershipOf returns the named leadership, made on first use.
func (s *Store) leadershipOf(name string) (*leadership, error) {
	s.lmu.Lock()
	defer s.lmu.Unlock()
	if s.leaders == nil {
		return nil, errClosed
	}
	l := s.leaders[name]
	if l == nil {
		l = &leadership{}
		s.leaders[name] = l
	}
	return l, nil
}

// closeLeaderships releases every leadership; later calls of Leader fail.
func (s *Store) closeLeaderships() {
	s.lmu.Lock()
	ls := s.leaders
	s.leaders = nil
	s.lmu.Unlock()
	for _, l := range ls {
		l.mu.Lock()
		l.drop()
		l.mu.Unlock()
	}
}

// dedicatedConn opens a connection outside the pool, configured like the
// pool's with params added, named app (application_name) so that it can
// be told apart in pg_stat_activity.
func (s *Store) dedicatedConn(ctx context.Context, app string, params map[string]string) (*pgx.Conn, error) {
	cfg := s.pool.Config().ConnConfig.Copy()
	cfg.RuntimeParams = maps.Clone(cfg.RuntimeParams)
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	maps.Copy(cfg.RuntimeParams, params)
	cfg.RuntimeParams["application_name"] = app
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, dedicatedConnTimeout)
		defer cancel()
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return conn, nil
}

// isClosed reports whether Close has begun.
func (s *Store) isClosed() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}
