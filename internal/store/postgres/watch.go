package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// eventsChannel is the NOTIFY channel of event appends; the payload is the
// tenant id (migrations/004).
const eventsChannel = "proxyhub_events"

// Reconnection backoff of WatchEvents: watchBackoffMin after the first
// failure, doubling up to watchBackoffMax. A connection that stayed up at
// least watchBackoffMax resets it.
const (
	watchBackoffMin = 100 * time.Millisecond
	watchBackoffMax = 5 * time.Second
)

// WatchEvents implements hub.LivenessStore with LISTEN proxyhub_events
// on a connection of its own (outside the pool, which would close or share
// it), calling fn with each notification's tenant id. Every transaction
// that appends events notifies once per tenant at commit, whichever hub
// sent it. When the connection fails it reconnects, with backoff, until
// ctx ends (it then returns nil) or the store is closed (errClosed); after
// a reconnection, notifications sent meanwhile are lost, so it calls fn
// once for every tenant, and watchers look for new events as they would
// after a notification.
func (s *Store) WatchEvents(ctx context.Context, fn func(tenantID string)) error {
	return s.listenLoop(ctx, "proxyhub-watch", eventsChannel, func(ctx context.Context, first bool) {
		if !first {
			s.wakeAll(ctx, fn)
		}
	}, fn)
}

// listenLoop LISTENs to channel on a dedicated connection (application
// name app) and calls fn with each notification's payload, until ctx ends
// (it returns nil) or the store is closed (errClosed). connected runs
// after each connection is subscribed (first: the first time), before any
// notification: what to do about notifications that may have been missed.
// A failed connection is replaced, with backoff.
func (s *Store) listenLoop(ctx context.Context, app, channel string, connected func(ctx context.Context, first bool), fn func(string)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { // the store's Close ends the watch; cancel ends this
		select {
		case <-s.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	backoff := watchBackoffMin
	for first := true; ; first = false {
		conn, err := s.listen(ctx, app, channel)
		if err == nil {
			connected(ctx, first)
			start := time.Now()
			err = waitNotifications(ctx, conn, channel, fn)
			closeConn(conn)
			if time.Since(start) >= watchBackoffMax {
				backoff = watchBackoffMin
			}
		}
		if ctx.Err() != nil {
			if s.isClosed() {
				return errClosed
			}
			return nil
		}
		s.log.Warn("postgres: LISTEN connection failed; reconnecting", "channel", channel, "error", err, "backoff_ms", backoff.Milliseconds())
		select {
		case <-ctx.Done():
			continue // reported at the top of the next turn
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, watchBackoffMax)
	}
}

// listen opens a dedicated connection and subscribes it to channel.
func (s *Store) listen(ctx context.Context, app, channel string) (*pgx.Conn, error) {
	conn, err := s.dedicatedConn(ctx, app, nil)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, "LISTEN "+channel); err != nil {
		closeConn(conn)
		return nil, err
	}
	return conn, nil
}

// waitNotifications calls fn for each notification of channel on conn
// until ctx ends or the connection fails.
func waitNotifications(ctx context.Context, conn *pgx.Conn, channel string, fn func(string)) error {
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		if n.Channel == channel && n.Payload != "" {
			fn(n.Payload)
		}
	}
}

// wakeAll calls fn for every tenant (after notifications may have been
// lost); failing to list them is only logged.
func (s *Store) wakeAll(ctx context.Context, fn func(string)) {
	ts, err := s.ListTenants(ctx)
	if err != nil {
		s.log.Warn("postgres: event watch: cannot list tenants to wake after reconnecting", "error", err)
		return
	}
	for _, t := range ts {
		fn(t.ID)
	}
}

func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = conn.Close(ctx)
}
