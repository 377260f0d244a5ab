package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
)

// Admin API credentials are read from the database: they are looked up
// once per token exchange and per request of a JWT minted from one, not
// per heartbeat.

const credentialColumns = `id, tenant_id, role, label, secret_hash, created_at, last_used_at, revoked_at`

// CreateCredential implements hub.CredentialStore.
func (s *Store) CreateCredential(ctx context.Context, c hub.Credential) error {
	const what = "sqlite: create credential"
	return s.update(ctx, what, func(ctx context.Context, tx *sql.Tx) (func(), error) {
		if s.st.tenants[c.TenantID] == nil {
			return nil, fmt.Errorf("sqlite: tenant %q: %w", c.TenantID, hub.ErrNotFound)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO admin_credentials (`+credentialColumns+`, seq)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, (SELECT coalesce(max(seq), 0) + 1 FROM admin_credentials))`,
			c.ID, c.TenantID, c.Role, c.Label, c.SecretHash, c.CreatedAt.UnixNano(), nanos(c.LastUsedAt), nanos(c.RevokedAt))
		return nil, translate(err, what)
	})
}

// CredentialByID implements hub.CredentialStore.
func (s *Store) CredentialByID(ctx context.Context, id string) (hub.Credential, error) {
	if s.isClosed() {
		return hub.Credential{}, errClosed
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+credentialColumns+` FROM admin_credentials WHERE id = ?`, id)
	if err != nil {
		return hub.Credential{}, translate(err, "sqlite: credential")
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return hub.Credential{}, translate(err, "sqlite: credential")
		}
		return hub.Credential{}, fmt.Errorf("sqlite: credential %q: %w", id, hub.ErrNotFound)
	}
	c, err := scanCredential(rows)
	return c, translate(err, "sqlite: credential")
}

// ListCredentials implements hub.CredentialStore.
func (s *Store) ListCredentials(ctx context.Context, tenantID string) ([]hub.Credential, error) {
	if err := s.tenantExists(ctx, tenantID); err != nil {
		return nil, err
	}
	out := []hub.Credential{}
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+credentialColumns+` FROM admin_credentials WHERE tenant_id = ? ORDER BY seq`, tenantID)
	if err != nil {
		return nil, translate(err, "sqlite: list credentials")
	}
	defer rows.Close()
	for rows.Next() {
		c, err := scanCredential(rows)
		if err != nil {
			return nil, translate(err, "sqlite: list credentials")
		}
		out = append(out, c)
	}
	return out, translate(rows.Err(), "sqlite: list credentials")
}

func scanCredential(rows *sql.Rows) (hub.Credential, error) {
	var c hub.Credential
	var created int64
	var used, revoked sql.NullInt64
	err := rows.Scan(&c.ID, &c.TenantID, &c.Role, &c.Label, &c.SecretHash, &created, &used, &revoked)
	c.CreatedAt, c.LastUsedAt, c.RevokedAt = fromNanos(created), fromNullNanos(used), fromNullNanos(revoked)
	return c, err
}

// RevokeCredential implements hub.CredentialStore.
func (s *Store) RevokeCredential(ctx context.Context, tenantID, id string, at time.Time) error {
	return s.changeRow(ctx, "sqlite: revoke credential",
		`UPDATE admin_credentials SET revoked_at = coalesce(revoked_at, ?) WHERE tenant_id = ? AND id = ?`, at, tenantID, id)
}

// TouchCredential implements hub.CredentialStore.
func (s *Store) TouchCredential(ctx context.Context, tenantID, id string, at time.Time) error {
	return s.changeRow(ctx, "sqlite: touch credential",
		`UPDATE admin_credentials SET last_used_at = max(coalesce(last_used_at, 0), ?1) WHERE tenant_id = ?2 AND id = ?3`, at, tenantID, id)
}

// errNoRow marks an UPDATE that matched nothing.
var errNoRow = errors.New("no such row")

// changeRow runs stmt (parameters: at, tenant, id) on one of the
// tenant's rows (a credential, a badge); ErrNotFound when it matched none.
func (s *Store) changeRow(ctx context.Context, what, stmt string, at time.Time, tenantID, id string) error {
	return s.changeTenantRow(ctx, what, stmt, at.UnixNano(), tenantID, id)
}

// changeTenantRow runs stmt, whose last two parameters are the tenant and
// the row's id, in a write transaction; ErrNotFound when it matched no
// row.
func (s *Store) changeTenantRow(ctx context.Context, what, stmt string, args ...any) error {
	err := s.update(ctx, what, func(ctx context.Context, tx *sql.Tx) (func(), error) {
		res, err := tx.ExecContext(ctx, stmt, args...)
		if err != nil {
			return nil, translate(err, what)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return nil, errNoRow
		}
		return nil, nil
	})
	if errors.Is(err, errNoRow) {
		return fmt.Errorf("%s %q: %w", what, args[len(args)-1], hub.ErrNotFound)
	}
	return err
}
