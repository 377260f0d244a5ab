package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/proxyhub/proxyhub/internal/hub"
)

const windowColumns = `tenant_id, id, label, proxy, pattern, start_at, end_at, cron, duration_ms, time_zone, ended_at, created_at, followed_up_to`

func scanWindow(row pgx.Row) (hub.MaintenanceWindow, error) {
	var w hub.MaintenanceWindow
	var start, end, ended pgtype.Timestamptz
	var durMS int64
	err := row.Scan(&w.TenantID, &w.ID, &w.Label, &w.Proxy, &w.Pattern, &start, &end, &w.Cron, &durMS, &w.TimeZone,
		&ended, &w.CreatedAt, &w.FollowedUpTo)
	w.Start, w.End, w.EndedAt = fromTimestamptz(start), fromTimestamptz(end), fromTimestamptz(ended)
	w.Duration = time.Duration(durMS) * time.Millisecond
	w.CreatedAt, w.FollowedUpTo = w.CreatedAt.UTC(), w.FollowedUpTo.UTC()
	return w, err
}

// CreateWindow implements hub.MaintenanceStore.
func (s *Store) CreateWindow(ctx context.Context, w hub.MaintenanceWindow) error {
	return s.inScope(ctx, tenantScope(w.TenantID), fmt.Sprintf("postgres: create maintenance window %q", w.ID), func(b *pgx.Batch) {
		b.Queue(`INSERT INTO maintenance_windows (`+windowColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
			w.TenantID, w.ID, w.Label, w.Proxy, w.Pattern, timestamptz(w.Start), timestamptz(w.End), w.Cron, w.Duration.Milliseconds(),
			w.TimeZone, timestamptz(w.EndedAt), w.CreatedAt, w.FollowedUpTo).Exec(ignoreTag)
	})
}

// ListWindows implements hub.MaintenanceStore: oldest first.
func (s *Store) ListWindows(ctx context.Context, tenantID string) ([]hub.MaintenanceWindow, error) {
	return listOfTenant(ctx, s, tenantID, "maintenance windows",
		`SELECT `+windowColumns+` FROM maintenance_windows WHERE tenant_id = $1 ORDER BY seq`, scanWindow)
}

// SetWindowTimes implements hub.MaintenanceStore.
func (s *Store) SetWindowTimes(ctx context.Context, w hub.MaintenanceWindow) error {
	return s.inScope(ctx, tenantScope(w.TenantID), fmt.Sprintf("postgres: set maintenance window %q", w.ID), func(b *pgx.Batch) {
		b.Queue(`UPDATE maintenance_windows SET ended_at = $3, followed_up_to = $4 WHERE tenant_id = $1 AND id = $2`,
			w.TenantID, w.ID, timestamptz(w.EndedAt), w.FollowedUpTo).Exec(affectedOne)
	})
}

// DeleteWindow implements hub.MaintenanceStore.
func (s *Store) DeleteWindow(ctx context.Context, tenantID, id string) error {
	return s.inScope(ctx, tenantScope(tenantID), fmt.Sprintf("postgres: delete maintenance window %q", id), func(b *pgx.Batch) {
		b.Queue(`DELETE FROM maintenance_windows WHERE tenant_id = $1 AND id = $2`, tenantID, id).Exec(affectedOne)
	})
}

// AppendOfflineEvents implements hub.MaintenanceStore, with the event
// stream's ordering locks and notification (events.go).
func (s *Store) AppendOfflineEvents(ctx context.Context, tenantID string, events []hub.Event) error {
	if _, err := s.GetTenant(ctx, tenantID); err != nil { // events have no foreign key (migrations/009)
		return err
	}
	if len(events) == 0 {
		return nil
	}
	evs := make([]newEvent, len(events))
	for i, e := range events {
		evs[i] = newEvent{typ: hub.EventOffline, proxy: e.Proxy, at: e.At, newIP: e.NewIP}
	}
	return s.inScope(ctx, tenantScope(tenantID), fmt.Sprintf("postgres: append offline events of %q", tenantID), func(b *pgx.Batch) {
		queueAppendEvents(b, map[string][]newEvent{tenantID: evs})
	})
}
