package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/proxyhub/proxyhub/internal/hub"
)

// FleetCounts implements hub.FleetStore: one GROUP BY over the proxies in
// the sweeper's scope (which reads every proxy), completed with the
// tenants that have none (platform scope).
func (s *Store) FleetCounts(ctx context.Context, now time.Time) ([]hub.FleetCount, error) {
	counts := map[string]hub.FleetCount{}
	err := s.inScope(ctx, sweeperScope, "postgres: fleet counts", func(b *pgx.Batch) {
		b.Queue(`SELECT tenant_id,
			        count(*) FILTER (WHERE NOT paused AND state = 'online' AND deadline >= $1),
			        count(*) FILTER (WHERE NOT paused AND (state = 'offline' OR deadline < $1)),
			        count(*) FILTER (WHERE paused)
			   FROM proxies GROUP BY tenant_id`, now).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var c hub.FleetCount
				if err := rows.Scan(&c.TenantID, &c.Online, &c.Offline, &c.Paused); err != nil {
					return err
				}
				counts[c.TenantID] = c
			}
			return rows.Err()
		})
	})
	if err != nil {
		return nil, err
	}
	ts, err := s.ListTenants(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]hub.FleetCount, len(ts))
	for i, t := range ts {
		out[i] = counts[t.ID]
		out[i].TenantID = t.ID
	}
	return out, nil
}

// NotificationCounts implements hub.FleetStore, in the dispatcher's scope
// (every webhook and event): per enabled webhook, the first event after
// its cursor.
func (s *Store) NotificationCounts(ctx context.Context) ([]hub.NotificationCount, error) {
	out := []hub.NotificationCount{}
	err := s.inScope(ctx, dispatcherScope, "postgres: notification counts", func(b *pgx.Batch) {
		b.Queue(`SELECT w.tenant_id, w.kind, count(e.at), count(*) FILTER (WHERE w.failing_since IS NOT NULL), min(e.at)
			   FROM webhooks w
			   LEFT JOIN LATERAL (SELECT at FROM events
			                       WHERE tenant_id = w.tenant_id AND id > w.cursor_id
			                       ORDER BY id LIMIT 1) e ON true
			  WHERE w.enabled
			  GROUP BY w.tenant_id, w.kind
			  ORDER BY w.tenant_id, w.kind`).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var c hub.NotificationCount
				var oldest *time.Time
				if err := rows.Scan(&c.TenantID, &c.Kind, &c.Pending, &c.Failing, &oldest); err != nil {
					return err
				}
				if oldest != nil {
					c.OldestPending = oldest.UTC()
				}
				out = append(out, c)
			}
			return rows.Err()
		})
	})
	return out, err
}
