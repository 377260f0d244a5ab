package postgres_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/pgtest"
	"github.com/proxyhub/proxyhub/internal/store/postgres"
)

var auditMutations = []string{
	`UPDATE ip_changes SET new_ip = '203.0.113.66'`,
	`DELETE FROM ip_changes`,
	`TRUNCATE ip_changes`,
	`UPDATE denied SET reason = 'forged'`,
	`DELETE FROM denied`,
	`TRUNCATE denied`,
	`UPDATE events SET new_ip = '203.0.113.66'`,
	`DELETE FROM events`,
	`TRUNCATE events`,
	`UPDATE webhook_deliveries SET error = 'forged'`,
	`DELETE FROM webhook_deliveries`,
	`TRUNCATE webhook_deliveries`,
}

// tryInScope runs sql in a transaction with the scope setting (e.g.
// proxyhub.tenant) set to value, and commits when it succeeds; it returns
// the first error.
func tryInScope(conn *pgx.Conn, setting, value, sql string) error {
	ctx := context.Background()
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT set_config($1, $2, true)`, setting, value); err != nil {
		return err
	}
	if _, err = tx.Exec(ctx, sql); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// tryInTenant runs sql in acme's scope.
func tryInTenant(conn *pgx.Conn, sql string) error {
	return tryInScope(conn, "proxyhub.tenant", "acme", sql)
}

func TestAudit_StoreRoleCannotRewriteHistory(t *testing.T) {
	t.Parallel()
	url, s := seeded(t)
	conn := connect(t, url)
	for _, sql := range auditMutations {
		err := tryInTenant(conn, sql)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "42501" {
			t.Errorf("%s as the store's role: %v, want permission denied", sql, err)
		}
	}
	if cs := mustChanges(t, s, "acme", hub.AuditQuery{}); len(cs) != 1 || cs[0].NewIP.String() != "192.0.2.2" {
		t.Fatalf("history after the attempts: %+v", cs)
	}
}

func TestAudit_TriggerRefusesEvenTheAdministrator(t *testing.T) {
	t.Parallel()
	url, _ := seeded(t)
	admin := connect(t, pgtest.AdminURL(t, url))
	for _, sql := range auditMutations {
		err := tryInTenant(admin, sql)
		if err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s as the administrator: %v, want the append-only trigger's refusal", sql, err)
		}
	}
	for table, want := range map[string]int{"ip_changes": 2, "denied": 2, "events": 6, "webhook_deliveries": 2} {
		var n int
		if err := admin.QueryRow(context.Background(), `SELECT count(*) FROM `+table).Scan(&n); err != nil || n != want {
			t.Fatalf("%s rows after the attempts: %d (%v), want %d", table, n, err, want)
		}
	}
}

// TestAudit_DeletingAWebhookDeletesItsLog: the one deletion the delivery
// log allows is its webhook's.
func TestAudit_DeletingAWebhookDeletesItsLog(t *testing.T) {
	t.Parallel()
	url, s := seeded(t)
	if err := s.DeleteWebhook(context.Background(), "acme", "wh_acme"); err != nil {
		t.Fatal(err)
	}
	admin := connect(t, pgtest.AdminURL(t, url))
	var acme, globex int
	err := admin.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE tenant_id = 'acme'), count(*) FILTER (WHERE tenant_id = 'globex') FROM webhook_deliveries`).Scan(&acme, &globex)
	if err != nil || acme != 0 || globex != 1 {
		t.Fatalf("deliveries after deleting acme's webhook: acme %d, globex %d (%v); want 0 and 1", acme, globex, err)
	}
}

// TestRetention_ScopeDeletesOnlyRowsOlderThanADay: even in the retention
// scope, a statement that would delete a row younger than a day (by the
// database's clock) is refused as a whole, as is any UPDATE or TRUNCATE;
// only old rows can go.
func TestRetention_ScopeDeletesOnlyRowsOlderThanADay(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	s := open(t, url, postgres.Options{})
	mustCreateTenants(t, s, "acme")
	old := time.Now().Add(-72 * time.Hour).UTC().Truncate(time.Microsecond)
	mustRecord(t, s, hb("acme", "edge-1", "192.0.2.1", old))
	mustRecord(t, s, hb("acme", "edge-1", "192.0.2.2", old.Add(time.Minute)))                        // old change
	mustRecord(t, s, hb("acme", "edge-1", "192.0.2.3", time.Now().UTC().Truncate(time.Microsecond))) // young change
	conn := connect(t, url)
	try := func(sql string) error { return tryInScope(conn, "proxyhub.scope", "retention", sql) }
	for _, sql := range []string{
		`DELETE FROM ip_changes`,
		`DELETE FROM events`,
		`DELETE FROM ip_changes WHERE at > now() - interval '2 days'`,
		`UPDATE ip_changes SET new_ip = '203.0.113.66' WHERE at < now() - interval '1 day'`,
		`TRUNCATE ip_changes`,
	} {
		if err := try(sql); err == nil {
			t.Errorf("%s in the retention scope: allowed, want refused", sql)
		}
	}
	if cs := mustChanges(t, s, "acme", hub.AuditQuery{}); len(cs) != 2 {
		t.Fatalf("history after the refused statements: %+v; want both changes", cs)
	}
	if err := try(`DELETE FROM ip_changes WHERE at < now() - interval '1 day'`); err != nil {
		t.Fatalf("deleting old rows in the retention scope: %v", err)
	}
	if cs := mustChanges(t, s, "acme", hub.AuditQuery{}); len(cs) != 1 || cs[0].NewIP.String() != "192.0.2.3" {
		t.Fatalf("history after pruning: %+v; want only the young change", cs)
	}
}
