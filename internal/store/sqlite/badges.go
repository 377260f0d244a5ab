package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
)

// Badges are read from the database: a badge is looked up once per
// request of its public URL, which answers with caching headers.

const badgeColumns = `id, tenant_id, proxy, label, key_hash, created_at, revoked_at`

// CreateBadge implements hub.BadgeStore.
func (s *Store) CreateBadge(ctx context.Context, b hub.Badge) error {
	const what = "sqlite: create badge"
	return s.update(ctx, what, func(ctx context.Context, tx *sql.Tx) (func(), error) {
		if s.st.tenants[b.TenantID] == nil {
			return nil, fmt.Errorf("sqlite: tenant %q: %w", b.TenantID, hub.ErrNotFound)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO badges (`+badgeColumns+`, seq)
			VALUES (?, ?, ?, ?, ?, ?, ?, (SELECT coalesce(max(seq), 0) + 1 FROM badges))`,
			b.ID, b.TenantID, b.Proxy, b.Label, b.KeyHash, b.CreatedAt.UnixNano(), nanos(b.RevokedAt))
		return nil, translate(err, what)
	})
}

// BadgeByKeyHash implements hub.BadgeStore.
func (s *Store) BadgeByKeyHash(ctx context.Context, hash string) (hub.Badge, error) {
	if s.isClosed() {
		return hub.Badge{}, errClosed
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+badgeColumns+` FROM badges WHERE key_hash = ?`, hash)
	if err != nil {
		return hub.Badge{}, translate(err, "sqlite: badge")
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return hub.Badge{}, translate(err, "sqlite: badge")
		}
		return hub.Badge{}, fmt.Errorf("sqlite: badge: %w", hub.ErrNotFound)
	}
	b, err := scanBadge(rows)
	return b, translate(err, "sqlite: badge")
}

// ListBadges implements hub.BadgeStore.
func (s *Store) ListBadges(ctx context.Context, tenantID string) ([]hub.Badge, error) {
	if err := s.tenantExists(ctx, tenantID); err != nil {
		return nil, err
	}
	out := []hub.Badge{}
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+badgeColumns+` FROM badges WHERE tenant_id = ? ORDER BY seq`, tenantID)
	if err != nil {
		return nil, translate(err, "sqlite: list badges")
	}
	defer rows.Close()
	for rows.Next() {
		b, err := scanBadge(rows)
		if err != nil {
			return nil, translate(err, "sqlite: list badges")
		}
		out = append(out, b)
	}
	return out, translate(rows.Err(), "sqlite: list badges")
}

func scanBadge(rows *sql.Rows) (hub.Badge, error) {
	var b hub.Badge
	var created int64
	var revoked sql.NullInt64
	err := rows.Scan(&b.ID, &b.TenantID, &b.Proxy, &b.Label, &b.KeyHash, &created, &revoked)
	b.CreatedAt, b.RevokedAt = fromNanos(created), fromNullNanos(revoked)
	return b, err
}

// RevokeBadge implements hub.BadgeStore.
func (s *Store) RevokeBadge(ctx context.Context, tenantID, id string, at time.Time) error {
	return s.changeRow(ctx, "sqlite: revoke badge",
		`UPDATE badges SET revoked_at = coalesce(revoked_at, ?) WHERE tenant_id = ? AND id = ?`, at, tenantID, id)
}
