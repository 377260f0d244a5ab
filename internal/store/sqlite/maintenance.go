package sqlite

import (
	"context"
	"database/sql"
	"net/netip"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
)

const windowColumns = `tenant_id, id, label, proxy, pattern, start_at, end_at, cron, duration_ms, time_zone, ended_at, created_at, followed_up_to`

// CreateWindow implements hub.MaintenanceStore.
func (s *Store) CreateWindow(ctx context.Context, w hub.MaintenanceWindow) error {
	const what = "sqlite: create maintenance window"
	return s.update(ctx, what, func(ctx context.Context, tx *sql.Tx) (func(), error) {
		if s.st.tenants[w.TenantID] == nil {
			return nil, tenantNotFound(w.TenantID)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO maintenance_windows (`+windowColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			w.TenantID, w.ID, w.Label, w.Proxy, w.Pattern, nanos(w.Start), nanos(w.End), w.Cron, w.Duration.Milliseconds(), w.TimeZone,
			nanos(w.EndedAt), w.CreatedAt.UnixNano(), w.FollowedUpTo.UnixNano())
		return nil, translate(err, what)
	})
}

// ListWindows implements hub.MaintenanceStore.
func (s *Store) ListWindows(ctx context.Context, tenantID string) ([]hub.MaintenanceWindow, error) {
	if err := s.tenantExists(ctx, tenantID); err != nil {
		return nil, err
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+windowColumns+` FROM maintenance_windows WHERE tenant_id = ? ORDER BY rowid`, tenantID)
	if err != nil {
		return nil, translate(err, "sqlite: list maintenance windows")
	}
	defer rows.Close()
	out := []hub.MaintenanceWindow{}
	for rows.Next() {
		var w hub.MaintenanceWindow
		var start, end, ended sql.NullInt64
		var durMS, created, followed int64
		if err := rows.Scan(&w.TenantID, &w.ID, &w.Label, &w.Proxy, &w.Pattern, &start, &end, &w.Cron, &durMS, &w.TimeZone,
			&ended, &created, &followed); err != nil {
			return nil, translate(err, "sqlite: list maintenance windows")
		}
		w.Start, w.End, w.EndedAt = fromNullNanos(start), fromNullNanos(end), fromNullNanos(ended)
		w.Duration, w.CreatedAt, w.FollowedUpTo = time.Duration(durMS)*time.Millisecond, fromNanos(created), fromNanos(followed)
		out = append(out, w)
	}
	return out, translate(rows.Err(), "sqlite: list maintenance windows")
}

// SetWindowTimes implements hub.MaintenanceStore.
func (s *Store) SetWindowTimes(ctx context.Context, w hub.MaintenanceWindow) error {
	return s.changeTenantRow(ctx, "sqlite: set maintenance window times",
		`UPDATE maintenance_windows SET ended_at = ?, followed_up_to = ? WHERE tenant_id = ? AND id = ?`,
		nanos(w.EndedAt), w.FollowedUpTo.UnixNano(), w.TenantID, w.ID)
}

// DeleteWindow implements hub.MaintenanceStore.
func (s *Store) DeleteWindow(ctx context.Context, tenantID, id string) error {
	return s.changeTenantRow(ctx, "sqlite: delete maintenance window",
		`DELETE FROM maintenance_windows WHERE tenant_id = ? AND id = ?`, tenantID, id)
}

// AppendOfflineEvents implements hub.MaintenanceStore.
func (s *Store) AppendOfflineEvents(ctx context.Context, tenantID string, events []hub.Event) error {
	const what = "sqlite: append offline events"
	var tenants []string
	err := s.update(ctx, what, func(ctx context.Context, tx *sql.Tx) (func(), error) {
		if s.st.tenants[tenantID] == nil {
			return nil, tenantNotFound(tenantID)
		}
		ev := s.newEventWriter(ctx, tx)
		for _, e := range events {
			if _, err := ev.add(ctx, tenantID, hub.EventOffline, e.Proxy, e.At, netip.Addr{}, e.NewIP); err != nil {
				return nil, translate(err, what)
			}
		}
		tenants = ev.tenants
		return func() { ev.apply(s.st) }, nil
	})
	if err == nil {
		s.watchers.notify(tenants)
	}
	return err
}
