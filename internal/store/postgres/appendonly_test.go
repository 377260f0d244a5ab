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
	var n int
	if err := admin.QueryRow(context.Background(), `SELECT count(*) FROM ip_changes`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("ip_changes rows after the attempts: %d, %v", n, err)
	}
}
