package hub

import (
	"context"
	"fmt"
	"time"
)

// The audit trail and the event stream, as the API reads them. Every read
// first confirms that the tenant exists, so an unknown tenant is
// ErrNotFound rather than an empty history.

// IPChanges calls fn for each IP change of the tenant matching q, newest
// first, streaming.
func (s *Service) IPChanges(ctx context.Context, tenantID string, q AuditQuery, fn func(IPChange) error) error {
	if _, err := s.tenant(ctx, tenantID); err != nil {
		return err
	}
	return s.store.ScanIPChanges(ctx, tenantID, q, fn)
}

// DeniedHeartbeats calls fn for each denied heartbeat of the tenant
// matching q, newest first, streaming.
func (s *Service) DeniedHeartbeats(ctx context.Context, tenantID string, q AuditQuery, fn func(Denied) error) error {
	if _, err := s.tenant(ctx, tenantID); err != nil {
		return err
	}
	return s.store.ScanDenied(ctx, tenantID, q, fn)
}

// IPChangeStats summarises the tenant's IP changes per proxy in [since,
// until); zero times leave that side open, and until must be after since.
func (s *Service) IPChangeStats(ctx context.Context, tenantID string, since, until time.Time) ([]ProxyStats, error) {
	if _, err := s.tenant(ctx, tenantID); err != nil {
		return nil, err
	}
	if !since.IsZero() && !until.IsZero() && !since.Before(until) {
		return nil, &FieldError{"query.until", "must be after since"}
	}
	return s.store.IPChangeStats(ctx, tenantID, since, until)
}

// Events calls fn for each event of the tenant matching q, in q's order,
// streaming.
func (s *Service) Events(ctx context.Context, tenantID string, q EventQuery, fn func(Event) error) error {
	if _, err := s.tenant(ctx, tenantID); err != nil {
		return err
	}
	return s.store.ScanEvents(ctx, tenantID, q, fn)
}

// LatestEventID returns the id of the tenant's newest event, 0 when it has
// none.
func (s *Service) LatestEventID(ctx context.Context, tenantID string) (int64, error) {
	var id int64
	err := s.Events(ctx, tenantID, EventQuery{Limit: 1}, func(e Event) error { id = e.ID; return nil })
	if err != nil {
		return 0, fmt.Errorf("latest event: %w", err)
	}
	return id, nil
}
