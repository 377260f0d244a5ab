package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/proxyhub/proxyhub/internal/hub"
)

// auditWhere returns the conditions of q for an audit table; ipCond is the
// condition the IP filter uses ("$?" is the address).
func auditWhere(tenantID string, q hub.AuditQuery, ipCond string) *where {
	w := &where{}
	w.add("tenant_id = $?", tenantID)
	if q.Proxy != "" {
		w.add("proxy = $?", q.Proxy)
	}
	if q.IP.IsValid() {
		w.add(ipCond, q.IP)
	}
	if !q.Since.IsZero() {
		w.add("at >= $?", q.Since)
	}
	if !q.Until.IsZero() {
		w.add("at < $?", q.Until)
	}
	if q.BeforeID > 0 {
		w.add("id < $?", q.BeforeID)
	}
	return w
}

// ScanIPChanges implements hub.AuditStore. Rows stream from the server as
// fn consumes them (keyset order: id descending), with one connection held
// meanwhile; fn may call the store, which then uses another connection.
// When fn fails, the rest of the selection is read and discarded, so bound
// large scans with q.Limit.
func (s *Store) ScanIPChanges(ctx context.Context, tenantID string, q hub.AuditQuery, fn func(hub.IPChange) error) error {
	w := auditWhere(tenantID, q, "(old_ip = $? OR new_ip = $?)")
	sql := `SELECT id, tenant_id, proxy, old_ip, new_ip, at, token_id, request_id
	          FROM ip_changes WHERE ` + w.String() + ` ORDER BY id DESC` + w.limit(q.Limit)
	return s.scanAudit(ctx, tenantID, "postgres: scan ip changes", sql, w.args, func(rows pgx.Rows) error {
		var c hub.IPChange
		if err := rows.Scan(&c.ID, &c.TenantID, &c.Proxy, &c.OldIP, &c.NewIP, &c.At, &c.TokenID, &c.RequestID); err != nil {
			return err
		}
		c.At = c.At.UTC()
		return fn(c)
	})
}

// RecordDenied implements hub.AuditStore. The denied event is appended in
// the same transaction (one pipeline), after the tenant's event-stream lock
// (events.go).
func (s *Store) RecordDenied(ctx context.Context, d hub.Denied) (int64, error) {
	var id int64
	err := s.inScope(ctx, tenantScope(d.TenantID), "postgres: record denied heartbeat", func(b *pgx.Batch) {
		b.Queue(`INSERT INTO denied (tenant_id, proxy, ip, at, token_id, request_id, reason)
		         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
			d.TenantID, d.Proxy, d.IP, d.At, d.TokenID, d.RequestID, d.Reason,
		).QueryRow(func(row pgx.Row) error { return row.Scan(&id) })
		queueAppendEvents(b, map[string][]newEvent{d.TenantID: {{typ: hub.EventDenied, proxy: d.Proxy, at: d.At, newIP: d.IP}}})
	})
	return id, err
}

// ScanDenied implements hub.AuditStore, streaming like ScanIPChanges.
func (s *Store) ScanDenied(ctx context.Context, tenantID string, q hub.AuditQuery, fn func(hub.Denied) error) error {
	w := auditWhere(tenantID, q, "ip = $?")
	sql := `SELECT id, tenant_id, proxy, ip, at, token_id, request_id, reason
	          FROM denied WHERE ` + w.String() + ` ORDER BY id DESC` + w.limit(q.Limit)
	return s.scanAudit(ctx, tenantID, "postgres: scan denied heartbeats", sql, w.args, func(rows pgx.Rows) error {
		var d hub.Denied
		if err := rows.Scan(&d.ID, &d.TenantID, &d.Proxy, &d.IP, &d.At, &d.TokenID, &d.RequestID, &d.Reason); err != nil {
			return err
		}
		d.At = d.At.UTC()
		return fn(d)
	})
}

// scanAudit streams the rows of an audit query to each; a tenant that does
// not exist is hub.ErrNotFound before any row.
func (s *Store) scanAudit(ctx context.Context, tenantID, what, sql string, args []any, each func(pgx.Rows) error) error {
	var exists bool
	var fnErr error // each's error, returned as it is
	err := s.inScope(ctx, tenantScope(tenantID), what, func(b *pgx.Batch) {
		queueTenantExists(b, tenantID, &exists)
		b.Queue(sql, args...).Query(func(rows pgx.Rows) error {
			if !exists {
				return nil
			}
			for rows.Next() {
				if err := each(rows); err != nil {
					fnErr = err
					return err
				}
			}
			return rows.Err()
		})
	})
	switch {
	case fnErr != nil:
		return fnErr
	case err != nil:
		return err
	case !exists:
		return fmt.Errorf("%s: tenant %q: %w", what, tenantID, hub.ErrNotFound)
	}
	return nil
}

// IPChangeStats implements hub.AuditStore, aggregating in SQL.
func (s *Store) IPChangeStats(ctx context.Context, tenantID string, since, until time.Time) ([]hub.ProxyStats, error) {
	w := &where{}
	w.add("tenant_id = $?", tenantID)
	if !since.IsZero() {
		w.add("at >= $?", since)
	}
	if !until.IsZero() {
		w.add("at < $?", until)
	}
	sql := `SELECT proxy, count(*), count(DISTINCT new_ip), max(at)
	          FROM ip_changes WHERE ` + w.String() + ` GROUP BY proxy ORDER BY proxy`
	out := []hub.ProxyStats{}
	var exists bool
	err := s.inScope(ctx, tenantScope(tenantID), "postgres: ip change stats", func(b *pgx.Batch) {
		queueTenantExists(b, tenantID, &exists)
		b.Queue(sql, w.args...).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var st hub.ProxyStats
				if err := rows.Scan(&st.Proxy, &st.Changes, &st.DistinctIPs, &st.LastChange); err != nil {
					return err
				}
				st.LastChange = st.LastChange.UTC()
				out = append(out, st)
			}
			return rows.Err()
		})
	})
	if err == nil && !exists {
		err = fmt.Errorf("postgres: ip change stats: tenant %q: %w", tenantID, hub.ErrNotFound)
	}
	return out, err
}

// historyTables are the tables PruneHistory prunes, each with a column at.
var historyTables = []string{"ip_changes", "denied", "events", "webhook_deliveries"}

// pruneSQL deletes up to $2 rows of a history table recorded before $1:
// the BRIN index on at finds them, and they are deleted by their physical
// address (rows of these tables are never updated, so it is stable).
const pruneSQL = `DELETE FROM %s WHERE ctid = ANY (ARRAY (SELECT ctid FROM %[1]s WHERE at < $1 LIMIT $2))`

// PruneHistory implements hub.AuditStore, in the 'retention' scope: one
// transaction per table. The database refuses (and so rolls back) a
// deletion of anything younger than a day by its own clock.
func (s *Store) PruneHistory(ctx context.Context, before time.Time, maxRows int) (int64, error) {
	if err := hub.CheckPruneBefore(before, time.Now()); err != nil {
		return 0, err
	}
	limit := any(nil) // LIMIT NULL: no limit
	if maxRows > 0 {
		limit = maxRows
	}
	var total int64
	for _, table := range historyTables {
		err := s.inScope(ctx, retentionScope, "postgres: prune "+table, func(b *pgx.Batch) {
			b.Queue(fmt.Sprintf(pruneSQL, table), before, limit).Exec(func(ct pgconn.CommandTag) error {
				total += ct.RowsAffected()
				return nil
			})
		})
		if err != nil {
			return total, err
		}
	}
	return total, nil
}
