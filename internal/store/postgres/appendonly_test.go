package postgres_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/proxyhub/proxyhub/internal/pgtest"
	"github.com/proxyhub/proxyhub/internal/store"
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

// tryInTenant runs sql in acme's scope, rolled back, and returns its error.
func tryInTenant(conn *pgx.Conn, sql string) error {
	ctx := context.Background()
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT set_config('proxyhub.tenant', 'acme', true)`); err != nil {
		return err
	}
	_, err = tx.Exec(ctx, sql)
	return err
}

func TestAudit_StoreRoleCannotRewriteHistory(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	s := open(t, url, postgres.Options{})
	seed(t, s)
	conn := connect(t, url)
	for _, sql := range auditMutations {
		err := tryInTenant(conn, sql)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "42501" {
			t.Errorf("%s as the store's role: %v, want permission denied", sql, err)
		}
	}
	if cs := mustChanges(t, s, "acme", store.AuditQuery{}); len(cs) != 1 || cs[0].NewIP.String() != "192.0.2.2" {
		t.Fatalf("history after the attempts: %+v", cs)
	}
}

func TestAudit_TriggerRefusesEvenTheAdministrator(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	s := open(t, url, postgres.Options{})
	seed(t, s)
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
	url := pgtest.URL(t)
	s := open(t, url, postgres.Options{})
	seed(t, s)
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
