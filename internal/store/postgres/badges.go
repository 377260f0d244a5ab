package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/proxyhub/proxyhub/internal/hub"
)

const badgeColumns = `id, tenant_id, proxy, label, key_hash, created_at, revoked_at`

func scanBadge(row pgx.Row) (hub.Badge, error) {
	var b hub.Badge
	var revoked *time.Time
	if err := row.Scan(&b.ID, &b.TenantID, &b.Proxy, &b.Label, &b.KeyHash, &b.CreatedAt, &revoked); err != nil {
		return hub.Badge{}, err
	}
	b.CreatedAt = b.CreatedAt.UTC()
	if revoked != nil {
		b.RevokedAt = revoked.UTC()
	}
	return b, nil
}

// CreateBadge implements hub.BadgeStore.
func (s *Store) CreateBadge(ctx context.Context, b hub.Badge) error {
	return s.inScope(ctx, tenantScope(b.TenantID), fmt.Sprintf("postgres: create badge %q", b.ID), func(bt *pgx.Batch) {
		bt.Queue(`INSERT INTO badges (`+badgeColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			b.ID, b.TenantID, b.Proxy, b.Label, b.KeyHash, b.CreatedAt, timestamptz(b.RevokedAt)).Exec(ignoreTag)
	})
}

// BadgeByKeyHash implements hub.BadgeStore, in a scope that can see only
// the badge with this key hash.
func (s *Store) BadgeByKeyHash(ctx context.Context, hash string) (hub.Badge, error) {
	var b hub.Badge
	err := s.inScope(ctx, badgeKeyScope(hash), "postgres: badge by key", func(bt *pgx.Batch) {
		bt.Queue(`SELECT `+badgeColumns+` FROM badges WHERE key_hash = $1`, hash).QueryRow(func(row pgx.Row) (err error) {
			b, err = scanBadge(row)
			return err
		})
	})
	return b, err
}

// ListBadges implements hub.BadgeStore: oldest first.
func (s *Store) ListBadges(ctx context.Context, tenantID string) ([]hub.Badge, error) {
	return listOfTenant(ctx, s, tenantID, "badges", `SELECT `+badgeColumns+` FROM badges WHERE tenant_id = $1 ORDER BY created_at, id`, scanBadge)
}

// RevokeBadge implements hub.BadgeStore; revoking twice keeps the first
// time.
func (s *Store) RevokeBadge(ctx context.Context, tenantID, id string, at time.Time) error {
	return s.inScope(ctx, tenantScope(tenantID), fmt.Sprintf("postgres: revoke badge %q", id), func(bt *pgx.Batch) {
		bt.Queue(`UPDATE badges SET revoked_at = coalesce(revoked_at, $3) WHERE tenant_id = $1 AND id = $2`,
			tenantID, id, at).Exec(affectedOne)
	})
}
