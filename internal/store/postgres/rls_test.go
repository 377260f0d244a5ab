package postgres_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/proxyhub/proxyhub/internal/pgtest"
	"github.com/proxyhub/proxyhub/internal/store"
	"github.com/proxyhub/proxyhub/internal/store/postgres"
)

// countRows counts each tenant table's rows visible to q.
func countRows(t *testing.T, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, table := range tenantTables {
		var n int
		if err := q.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			t.Fatalf("count %s: %v", table, err)
		}
		out[table] = n
	}
	return out
}

func TestRLS_StoreRoleIsSubjectToRowLevelSecurity(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	open(t, url, postgres.Options{})
	conn := connect(t, url)
	var super, bypass bool
	if err := conn.QueryRow(context.Background(),
		`SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user`).Scan(&super, &bypass); err != nil {
		t.Fatal(err)
	}
	if super || bypass {
		t.Fatalf("the store's role is superuser=%v bypassrls=%v: row-level security would not apply", super, bypass)
	}
	for _, table := range tenantTables {
		var enabled, forced bool
		err := conn.QueryRow(context.Background(),
			`SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = $1::regclass`, table).Scan(&enabled, &forced)
		if err != nil {
			t.Fatal(err)
		}
		if !enabled || !forced {
			t.Errorf("%s: row level security enabled=%v forced=%v, want both", table, enabled, forced)
		}
	}
}

func TestRLS_UnscopedConnectionSeesNothing(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	s := open(t, url, postgres.Options{})
	seed(t, s)

	// The store's own role, on a connection that set no scope.
	conn := connect(t, url)
	for table, n := range countRows(t, conn) {
		if n != 0 {
			t.Errorf("unscoped connection sees %d rows of %s, want 0", n, table)
		}
	}
	tag, err := conn.Exec(context.Background(), `UPDATE proxies SET ip = '203.0.113.66'`)
	if err != nil || tag.RowsAffected() != 0 {
		t.Fatalf("unscoped UPDATE of proxies: %v, %d rows; want none touched", err, tag.RowsAffected())
	}

	// The administrator sees that the rows are there.
	admin := connect(t, pgtest.AdminURL(t, url))
	if got := countRows(t, admin); got["proxies"] != 2 || got["ip_changes"] != 2 || got["tenants"] != 2 {
		t.Fatalf("rows seen by the administrator: %v", got)
	}
}

func TestRLS_TenantScopeSeesOnlyItsTenant(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	s := open(t, url, postgres.Options{})
	seed(t, s)
	conn := connect(t, url)
	ctx := context.Background()

	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT set_config('proxyhub.tenant', 'acme', true)`); err != nil {
			return err
		}
		for table, n := range countRows(t, tx) {
			if n != 1 {
				t.Errorf("acme's scope sees %d rows of %s, want its 1", n, table)
			}
		}
		var other int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM proxies WHERE tenant_id = 'globex'`).Scan(&other); err != nil || other != 0 {
			t.Errorf("acme's scope sees %d of globex's proxies (%v)", other, err)
		}
		// Writing another tenant's row is refused, not just hidden.
		_, err := tx.Exec(ctx, `INSERT INTO proxies (tenant_id, name, ip, created_at, last_seen) VALUES ('globex', 'intruder', '192.0.2.9', now(), now())`)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "42501" {
			t.Errorf("insert into another tenant: %v, want a row-level security violation", err)
		}
		return errors.New("rollback")
	})
	if err == nil || err.Error() != "rollback" {
		t.Fatal(err)
	}

	// The scope was transaction-local: the connection sees nothing again.
	if n := countRows(t, conn)["proxies"]; n != 0 {
		t.Fatalf("after the transaction the connection still sees %d proxies", n)
	}
}

func TestRLS_LookupScopesSeeOneRecord(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	s := open(t, url, postgres.Options{})
	seed(t, s)
	conn := connect(t, url)
	ctx := context.Background()
	cases := []struct{ setting, value, table string }{
		{"proxyhub.token_hash", "hash-acme", "heartbeat_tokens"},
		{"proxyhub.credential_id", "phc_globex", "admin_credentials"},
	}
	for _, tc := range cases {
		_ = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT set_config($1, $2, true)`, tc.setting, tc.value); err != nil {
				t.Fatal(err)
			}
			got := countRows(t, tx)
			for table, n := range got {
				want := 0
				if table == tc.table {
					want = 1
				}
				if n != want {
					t.Errorf("%s scope sees %d rows of %s, want %d", tc.setting, n, table, want)
				}
			}
			// The lookup scope is read-only.
			tag, err := tx.Exec(ctx, `UPDATE `+tc.table+` SET revoked_at = now()`)
			if err != nil || tag.RowsAffected() != 0 {
				t.Errorf("%s scope updated %d rows of %s (%v), want none", tc.setting, tag.RowsAffected(), tc.table, err)
			}
			return errors.New("rollback")
		})
	}
}

func TestRLS_ScopeEndsWithEachCall(t *testing.T) {
	t.Parallel()
	s := open(t, pgtest.URL(t), postgres.Options{})
	seed(t, s)
	ctx := context.Background()
	// Use several connections for scoped calls of every kind.
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			_, _ = s.GetTenant(ctx, "acme")
			_, _ = s.ListTenants(ctx)
			_, _ = s.TokenByHash(ctx, "hash-globex")
			_, _ = s.CredentialByID(ctx, "phc_acme")
			_, _ = s.ListProxies(ctx, "globex", store.ProxyQuery{})
		})
	}
	wg.Wait()
	// Hold every connection of the pool at once, so each is checked.
	pool := s.Pool()
	var conns []interface{ Release() }
	defer func() {
		for _, c := range conns {
			c.Release()
		}
	}()
	for range pool.Config().MaxConns {
		c, err := pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		for _, setting := range []string{"proxyhub.tenant", "proxyhub.token_hash", "proxyhub.credential_id", "proxyhub.scope"} {
			var v *string
			if err := c.QueryRow(ctx, `SELECT nullif(current_setting($1, true), '')`, setting).Scan(&v); err != nil {
				t.Fatal(err)
			}
			if v != nil {
				t.Errorf("a pooled connection still has %s = %q after the store's calls", setting, *v)
			}
		}
	}
}
