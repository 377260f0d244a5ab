package sqlite

import (
	"context"
	"database/sql"
	"net/netip"
	"strings"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
)

// auditWhere is the WHERE clause of an audit query over a table whose
// address columns are ipColumns.
func auditWhere(tenantID string, q hub.AuditQuery, ipColumns ...string) (string, []any) {
	where := []string{"tenant_id = ?"}
	args := []any{tenantID}
	if q.Proxy != "" {
		where, args = append(where, "proxy = ?"), append(args, q.Proxy)
	}
	if q.IP.IsValid() {
		ors := make([]string, len(ipColumns))
		for i, c := range ipColumns {
			ors[i] = c + " = ?"
			args = append(args, q.IP.String())
		}
		where = append(where, "("+strings.Join(ors, " OR ")+")")
	}
	if !q.Since.IsZero() {
		where, args = append(where, "at >= ?"), append(args, q.Since.UnixNano())
	}
	if !q.Until.IsZero() {
		where, args = append(where, "at < ?"), append(args, q.Until.UnixNano())
	}
	if q.BeforeID > 0 {
		where, args = append(where, "id < ?"), append(args, q.BeforeID)
	}
	return strings.Join(where, " AND "), args
}

// ScanIPChanges implements hub.AuditStore.
func (s *Store) ScanIPChanges(ctx context.Context, tenantID string, q hub.AuditQuery, fn func(hub.IPChange) error) error {
	if err := s.tenantExists(ctx, tenantID); err != nil {
		return err
	}
	where, args := auditWhere(tenantID, q, "old_ip", "new_ip")
	return scanPages(ctx, s, page{
		sql:   `SELECT id, tenant_id, proxy, old_ip, new_ip, at, token_id, request_id FROM ip_changes WHERE ` + where,
		args:  args,
		limit: q.Limit,
	}, scanIPChange, fn, func(c hub.IPChange) int64 { return c.ID })
}

func scanIPChange(rows *sql.Rows) (hub.IPChange, error) {
	var c hub.IPChange
	var oldIP, newIP sql.NullString
	var at int64
	if err := rows.Scan(&c.ID, &c.TenantID, &c.Proxy, &oldIP, &newIP, &at, &c.TokenID, &c.RequestID); err != nil {
		return c, err
	}
	c.At = fromNanos(at)
	var err error
	if c.OldIP, err = parseAddr(oldIP); err != nil {
		return c, err
	}
	c.NewIP, err = parseAddr(newIP)
	return c, err
}

// RecordDenied implements hub.AuditStore: the record and its denied event,
// in one transaction.
func (s *Store) RecordDenied(ctx context.Context, d hub.Denied) (int64, error) {
	const what = "sqlite: record denied heartbeat"
	var id int64
	var tenants []string
	err := s.update(ctx, what, func(ctx context.Context, tx *sql.Tx) (func(), error) {
		if s.st.tenants[d.TenantID] == nil {
			return nil, tenantNotFound(d.TenantID)
		}
		id = s.st.seq.denied + 1
		if _, err := tx.ExecContext(ctx, `INSERT INTO denied (id, tenant_id, proxy, ip, at, token_id, request_id, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			id, d.TenantID, d.Proxy, d.IP.String(), d.At.UnixNano(), d.TokenID, d.RequestID, d.Reason); err != nil {
			return nil, translate(err, what)
		}
		ev := s.newEventWriter(ctx, tx)
		if _, err := ev.add(ctx, d.TenantID, hub.EventDenied, d.Proxy, d.At, netip.Addr{}, d.IP); err != nil {
			return nil, translate(err, what)
		}
		tenants = ev.tenants
		return func() {
			s.st.seq.denied = id
			ev.apply(s.st)
		}, nil
	})
	if err != nil {
		return 0, err
	}
	s.watchers.notify(tenants)
	return id, nil
}

// ScanDenied implements hub.AuditStore.
func (s *Store) ScanDenied(ctx context.Context, tenantID string, q hub.AuditQuery, fn func(hub.Denied) error) error {
	if err := s.tenantExists(ctx, tenantID); err != nil {
		return err
	}
	where, args := auditWhere(tenantID, q, "ip")
	return scanPages(ctx, s, page{
		sql:   `SELECT id, tenant_id, proxy, ip, at, token_id, request_id, reason FROM denied WHERE ` + where,
		args:  args,
		limit: q.Limit,
	}, scanDenied, fn, func(d hub.Denied) int64 { return d.ID })
}

func scanDenied(rows *sql.Rows) (hub.Denied, error) {
	var d hub.Denied
	var ip sql.NullString
	var at int64
	if err := rows.Scan(&d.ID, &d.TenantID, &d.Proxy, &ip, &at, &d.TokenID, &d.RequestID, &d.Reason); err != nil {
		return d, err
	}
	d.At = fromNanos(at)
	var err error
	d.IP, err = parseAddr(ip)
	return d, err
}

// IPChangeStats implements hub.AuditStore.
func (s *Store) IPChangeStats(ctx context.Context, tenantID string, since, until time.Time) ([]hub.ProxyStats, error) {
	const what = "sqlite: ip change stats"
	if err := s.tenantExists(ctx, tenantID); err != nil {
		return nil, err
	}
	if s.isClosed() {
		return nil, errClosed
	}
	where, args := auditWhere(tenantID, hub.AuditQuery{Since: since, Until: until})
	rows, err := s.rdb.QueryContext(ctx, `SELECT proxy, count(*), count(DISTINCT new_ip), max(at) FROM ip_changes WHERE `+where+
		` GROUP BY proxy ORDER BY proxy`, args...)
	if err != nil {
		return nil, translate(err, what)
	}
	defer rows.Close()
	out := []hub.ProxyStats{}
	for rows.Next() {
		var st hub.ProxyStats
		var last int64
		if err := rows.Scan(&st.Proxy, &st.Changes, &st.DistinctIPs, &last); err != nil {
			return nil, translate(err, what)
		}
		st.LastChange = fromNanos(last)
		out = append(out, st)
	}
	return out, translate(rows.Err(), what)
}
