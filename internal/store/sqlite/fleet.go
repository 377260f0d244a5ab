package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"slices"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
)

// FleetCounts implements hub.FleetStore, from memory.
func (s *Store) FleetCounts(ctx context.Context, now time.Time) ([]hub.FleetCount, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	out := make([]hub.FleetCount, 0, len(s.st.tenants))
	for id, t := range s.st.tenants {
		c := hub.FleetCount{TenantID: id}
		for _, p := range t.proxies {
			switch {
			case p.paused:
				c.Paused++
			case p.offline || p.deadline < now.UnixNano():
				c.Offline++
			default:
				c.Online++
			}
		}
		out = append(out, c)
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b hub.FleetCount) int { return cmp.Compare(a.TenantID, b.TenantID) })
	return out, nil
}

// NotificationCounts implements hub.FleetStore: per enabled webhook, the
// first event after its cursor.
func (s *Store) NotificationCounts(ctx context.Context) ([]hub.NotificationCount, error) {
	if s.isClosed() {
		return nil, errClosed
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT w.tenant_id, w.kind,
		       count(e.at), sum(w.failing_since IS NOT NULL), min(e.at)
		  FROM webhooks w
		  LEFT JOIN events e ON e.id = (SELECT min(id) FROM events WHERE tenant_id = w.tenant_id AND id > w.cursor_id)
		 WHERE w.enabled = 1
		 GROUP BY w.tenant_id, w.kind
		 ORDER BY w.tenant_id, w.kind`)
	if err != nil {
		return nil, translate(err, "sqlite: notification counts")
	}
	defer rows.Close()
	out := []hub.NotificationCount{}
	for rows.Next() {
		var c hub.NotificationCount
		var oldest sql.NullInt64
		if err := rows.Scan(&c.TenantID, &c.Kind, &c.Pending, &c.Failing, &oldest); err != nil {
			return nil, translate(err, "sqlite: notification counts")
		}
		c.OldestPending = fromNullNanos(oldest)
		out = append(out, c)
	}
	return out, translate(rows.Err(), "sqlite: notification counts")
}
