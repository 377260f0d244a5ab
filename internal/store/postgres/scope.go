package postgres

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/proxyhub/proxyhub/internal/hub"
)

// scope is the row-level-security scope of one transaction: which setting
// the policies of migrations/002 read, and its value.
type scope struct{ setting, value string }

// tenantScope sees and changes one tenant's rows.
func tenantScope(tenantID string) scope { return scope{"proxyhub.tenant", tenantID} }

// tokenHashScope sees the one token whose hash is given.
func tokenHashScope(hash string) scope { return scope{"proxyhub.token_hash", hash} }

// badgeKeyScope sees the one badge whose key hash is given.
func badgeKeyScope(hash string) scope { return scope{"proxyhub.badge_key_hash", hash} }

// credentialScope sees the one admin credential whose id is given.
func credentialScope(id string) scope { return scope{"proxyhub.credential_id", id} }

// platformScope reads every tenant's record (tenant administration).
var platformScope = scope{"proxyhub.scope", "platform"}

// sweeperScope is the platform-level sweep (ExpireProxies, NextDeadline):
// it reads every proxy, may flip only online, unpaused proxies to offline,
// and may append only offline events (migrations/004, 006).
var sweeperScope = scope{"proxyhub.scope", "sweeper"}

// dispatcherScope reads every webhook and event, nothing else, and writes
// nothing (DueWebhooks; migrations/005).
var dispatcherScope = scope{"proxyhub.scope", "dispatcher"}

// retentionScope sees and may delete the history of every tenant, and only
// rows older than a day (PruneHistory; migrations/008).
var retentionScope = scope{"proxyhub.scope", "retention"}

// setScopeSQL sets a scope for the rest of the current transaction.
const setScopeSQL = `SELECT set_config($1, $2, true)`

// queue adds the statement that sets sc to b.
func (sc scope) queue(b *pgx.Batch) {
	b.Queue(setScopeSQL, sc.setting, sc.value).Exec(ignoreTag)
}

// ignoreTag is the callback of a statement whose result does not matter
// beyond its success.
func ignoreTag(pgconn.CommandTag) error { return nil }

// affectedOne is the callback of a statement that must change a row: none
// changed means the addressed record is not in the scoped tenant.
func affectedOne(ct pgconn.CommandTag) error {
	if ct.RowsAffected() == 0 {
		return pgx.ErrNoRows
	}
	return nil
}

// inScope sends sc's set_config followed by the statements queue adds to b,
// as one pipeline: one round trip, run by PostgreSQL as one implicit
// transaction that commits when the pipeline ends (so a write is durable
// when inScope returns nil), and whose scope ends with it. The callbacks
// the statements registered run in order; the first error stops the rest
// and is returned, translated, prefixed with what.
func (s *Store) inScope(ctx context.Context, sc scope, what string, queue func(b *pgx.Batch)) error {
	b := &pgx.Batch{}
	sc.queue(b)
	queue(b)
	return translate(s.pool.SendBatch(ctx, b).Close(), what)
}

// queueTenantExists adds a query that reports whether the scoped tenant
// exists into *ok.
func queueTenantExists(b *pgx.Batch, tenantID string, ok *bool) {
	b.Queue(`SELECT EXISTS (SELECT FROM tenants WHERE id = $1)`, tenantID).QueryRow(func(row pgx.Row) error {
		return row.Scan(ok)
	})
}

// listOfTenant runs sql, whose one argument is the tenant id, in the
// tenant's scope and scans every row with scan: what the List methods of
// tokens, credentials and webhooks share. It fails with ErrNotFound when
// the tenant does not exist (an empty list means it has none).
func listOfTenant[T any](ctx context.Context, s *Store, tenantID, what, sql string, scan func(pgx.Row) (T, error)) ([]T, error) {
	out := []T{}
	var exists bool
	err := s.inScope(ctx, tenantScope(tenantID), fmt.Sprintf("postgres: list %s of %q", what, tenantID), func(b *pgx.Batch) {
		queueTenantExists(b, tenantID, &exists)
		b.Queue(sql, tenantID).Query(func(rows pgx.Rows) error {
			rs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (T, error) { return scan(r) })
			out = append(out, rs...)
			return err
		})
	})
	if err == nil && !exists {
		err = fmt.Errorf("postgres: tenant %q: %w", tenantID, hub.ErrNotFound)
	}
	return out, err
}

// where builds the condition list of a query whose arguments are numbered
// in order: each cond uses "$?" for its one argument.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, arg any) {
	w.args = append(w.args, arg)
	w.conds = append(w.conds, strings.ReplaceAll(cond, "$?", "$"+strconv.Itoa(len(w.args))))
}

func (w *where) String() string { return strings.Join(w.conds, " AND ") }

// limit returns a LIMIT clause for n > 0 (as an argument of w), or "".
func (w *where) limit(n int) string {
	if n <= 0 {
		return ""
	}
	w.args = append(w.args, n)
	return " LIMIT $" + strconv.Itoa(len(w.args))
}

// timestamptz encodes t, the zero time as NULL.
func timestamptz(t time.Time) pgtype.Timestamptz {
	return pgtype.Timestamptz{Time: t, Valid: !t.IsZero()}
}

// fromTimestamptz decodes a nullable time as UTC, NULL as the zero time.
func fromTimestamptz(t pgtype.Timestamptz) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

// cidrs encodes networks for a cidr[] column: never NULL, host bits
// cleared (cidr refuses them; they do not change what a network contains).
func cidrs(ps []netip.Prefix) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.Masked())
	}
	return out
}

// fromCIDRs decodes a cidr[] column, the empty array as nil.
func fromCIDRs(ps []netip.Prefix) []netip.Prefix {
	if len(ps) == 0 {
		return nil
	}
	return ps
}
