package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/proxyhub/proxyhub/internal/hub"
)

const proxyColumns = `tenant_id, name, ip, peer_ip, created_at, last_seen, ip_changes, state, paused, offline_after_ms, deadline`

func scanProxy(row pgx.Row) (hub.Proxy, error) {
	var p hub.Proxy
	var override pgtype.Int8
	err := row.Scan(&p.TenantID, &p.Name, &p.IP, &p.PeerIP, &p.CreatedAt, &p.LastSeen, &p.IPChanges,
		&p.State, &p.Paused, &override, &p.Deadline)
	p.OfflineAfter = fromMillis(override)
	p.CreatedAt, p.LastSeen, p.Deadline = p.CreatedAt.UTC(), p.LastSeen.UTC(), p.Deadline.UTC()
	return p, err
}

// fromMillis decodes a nullable duration in milliseconds, NULL as 0.
func fromMillis(ms pgtype.Int8) time.Duration {
	return time.Duration(ms.Int64) * time.Millisecond
}

// RecordHeartbeat implements hub.ProxyStore. The heartbeat joins the next
// batch (see batch.go) and RecordHeartbeat returns once that batch's
// transaction has committed, with the heartbeat's own outcome: a missing
// tenant is hub.ErrNotFound, a new name without MayCreate
// hub.ErrNotRegistered, a new name beyond MaxProxies
// hub.ErrQuotaExceeded, each without failing the rest of the batch.
//
// A heartbeat whose ctx ends before a writer takes it into a transaction
// is not written, and RecordHeartbeat returns ctx's error (wrapping
// hub.ErrUnavailable for a deadline). When ctx ends later, RecordHeartbeat
// waits for the transaction's outcome, which is bounded by the latest
// deadline of the heartbeats in it: an error never hides a committed
// heartbeat (only a connection lost after COMMIT was sent leaves that
// unknown).
func (s *Store) RecordHeartbeat(ctx context.Context, hb hub.Heartbeat) (hub.HeartbeatResult, error) {
	const what = "postgres: record heartbeat"
	if ctx.Err() != nil {
		return hub.HeartbeatResult{}, ctxError(ctx, what)
	}
	if hb.TenantID == "" || hb.Name == "" || !hb.IP.IsValid() {
		return hub.HeartbeatResult{}, fmt.Errorf("%s: tenant, name and IP are required: %w", what, errInvalid)
	}
	p := &pending{ctx: ctx, hb: hb, done: make(chan outcome, 1)}
	if err := s.enqueue(ctx, p); err != nil {
		return hub.HeartbeatResult{}, err
	}
	select {
	case o := <-p.done:
		return o.res, o.err
	case <-ctx.Done():
		if p.claim.Abandon() {
			return hub.HeartbeatResult{}, ctxError(ctx, what)
		}
		// A writer has it in a transaction that may commit: only its
		// outcome tells the truth.
		o := <-p.done
		return o.res, o.err
	}
}

// errInvalid marks a request the store refuses to send.
var errInvalid = errors.New("invalid argument")

// ListProxies implements hub.ProxyStore. The name prefix is literal (no
// pattern characters), names sort bytewise.
func (s *Store) ListProxies(ctx context.Context, tenantID string, q hub.ProxyQuery) ([]hub.Proxy, error) {
	w := &where{}
	w.add("tenant_id = $?", tenantID)
	if q.NamePrefix != "" {
		w.add("starts_with(name, $?)", q.NamePrefix)
	}
	if q.After != "" {
		w.add("name > $?", q.After)
	}
	if !q.DeadlineBefore.IsZero() {
		w.add("deadline < $?", q.DeadlineBefore)
	}
	if !q.DeadlineFrom.IsZero() {
		w.add("deadline >= $?", q.DeadlineFrom)
	}
	sql := `SELECT ` + proxyColumns + ` FROM proxies WHERE ` + w.String() + ` ORDER BY name` + w.limit(q.Limit)

	out := []hub.Proxy{}
	var exists bool
	err := s.inScope(ctx, tenantScope(tenantID), fmt.Sprintf("postgres: list proxies of %q", tenantID), func(b *pgx.Batch) {
		queueTenantExists(b, tenantID, &exists)
		b.Queue(sql, w.args...).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				p, err := scanProxy(rows)
				if err != nil {
					return err
				}
				out = append(out, p)
			}
			return rows.Err()
		})
	})
	if err == nil && !exists {
		err = fmt.Errorf("postgres: tenant %q: %w", tenantID, hub.ErrNotFound)
	}
	return out, err
}

// GetProxy implements hub.ProxyStore.
func (s *Store) GetProxy(ctx context.Context, tenantID, name string) (hub.Proxy, error) {
	var p hub.Proxy
	err := s.inScope(ctx, tenantScope(tenantID), fmt.Sprintf("postgres: proxy %q", name), func(b *pgx.Batch) {
		b.Queue(`SELECT `+proxyColumns+` FROM proxies WHERE tenant_id = $1 AND name = $2`, tenantID, name).QueryRow(func(row pgx.Row) (err error) {
			p, err = scanProxy(row)
			return err
		})
	})
	return p, err
}

// DeleteProxy implements hub.ProxyStore. The proxy's IP-change history
// stays; a later heartbeat of the name registers it anew.
func (s *Store) DeleteProxy(ctx context.Context, tenantID, name string) error {
	return s.inScope(ctx, tenantScope(tenantID), fmt.Sprintf("postgres: delete proxy %q", name), func(b *pgx.Batch) {
		b.Queue(`DELETE FROM proxies WHERE tenant_id = $1 AND name = $2`, tenantID, name).Exec(affectedOne)
	})
}
