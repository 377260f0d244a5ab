package postgres_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/pgtest"
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
	url, _ := seeded(t)

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
	if got := countRows(t, admin); got["proxies"] != 2 || got["ip_changes"] != 2 || got["tenants"] != 2 || got["events"] != 6 || got["webhooks"] != 2 {
		t.Fatalf("rows seen by the administrator: %v", got)
	}
}

func TestRLS_TenantScopeSeesOnlyItsTenant(t *testing.T) {
	t.Parallel()
	url, _ := seeded(t)
	conn := connect(t, url)
	ctx := context.Background()

	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT set_config('proxyhub.tenant', 'acme', true)`); err != nil {
			return err
		}
		for table, n := range countRows(t, tx) {
			if n != seedRows[table] {
				t.Errorf("acme's scope sees %d rows of %s, want its %d", n, table, seedRows[table])
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
	url, _ := seeded(t)
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
			_, _ = s.ListProxies(ctx, "globex", hub.ProxyQuery{})
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

// inScopeRolledBack runs fn in a transaction with setting = value, then
// rolls it back.
func inScopeRolledBack(t *testing.T, conn *pgx.Conn, setting, value string, fn func(tx pgx.Tx)) {
	t.Helper()
	ctx := context.Background()
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT set_config($1, $2, true)`, setting, value); err != nil {
		t.Fatal(err)
	}
	fn(tx)
}

// execIn runs sql in a savepoint of tx (so that a refusal does not end tx)
// and returns the rows it affected and its error.
func execIn(t *testing.T, tx pgx.Tx, sql string) (int64, error) {
	t.Helper()
	ctx := context.Background()
	sp, err := tx.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Rollback(ctx)
	tag, err := sp.Exec(ctx, sql)
	return tag.RowsAffected(), err
}

func isRLSViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "42501"
}

// TestRLS_SweeperScopeFlipsOnlineProxiesAndNothingElse: the sweeper's
// scope reads every proxy, may only turn online, unpaused proxies into
// offline ones, append only offline events, and sees no other table.
func TestRLS_SweeperScopeFlipsOnlineProxiesAndNothingElse(t *testing.T) {
	t.Parallel()
	url, s := seeded(t)
	if _, err := s.SetPaused(context.Background(), "globex", "edge-1", true, t0); err != nil {
		t.Fatal(err)
	}
	conn := connect(t, url)
	inScopeRolledBack(t, conn, "proxyhub.scope", "sweeper", func(tx pgx.Tx) {
		for table, n := range countRows(t, tx) {
			want := 0
			if table == "proxies" {
				want = 2 // every tenant's
			}
			if n != want {
				t.Errorf("sweeper scope sees %d rows of %s, want %d", n, table, want)
			}
		}
		if _, err := execIn(t, tx, `UPDATE proxies SET ip = '203.0.113.66'`); !isRLSViolation(err) {
			t.Errorf("sweeper scope changing an IP: %v, want a row-level security violation", err)
		}
		if n, err := execIn(t, tx, `UPDATE proxies SET state = 'offline'`); err != nil || n != 1 {
			t.Errorf("sweeper scope flipping: %d rows (%v), want acme's only (globex's is paused)", n, err)
		}
		if _, err := execIn(t, tx, `INSERT INTO events (tenant_id, type, proxy, at) VALUES ('acme', 'online', 'edge-1', now())`); !isRLSViolation(err) {
			t.Errorf("sweeper scope appending an online event: %v, want a row-level security violation", err)
		}
		if n, err := execIn(t, tx, `INSERT INTO events (tenant_id, type, proxy, at) VALUES ('acme', 'offline', 'edge-1', now())`); err != nil || n != 1 {
			t.Errorf("sweeper scope appending an offline event: %d, %v", n, err)
		}
		if n, err := execIn(t, tx, `UPDATE webhooks SET cursor_id = 0`); err != nil || n != 0 {
			t.Errorf("sweeper scope updated %d webhooks (%v)", n, err)
		}
	})
	// Offline proxies stay out of its reach.
	if _, err := s.ExpireProxies(context.Background(), t0.Add(time.Hour), 0); err != nil {
		t.Fatal(err)
	}
	inScopeRolledBack(t, conn, "proxyhub.scope", "sweeper", func(tx pgx.Tx) {
		if n, err := execIn(t, tx, `UPDATE proxies SET state = 'online'`); err != nil || n != 0 {
			t.Errorf("sweeper scope turned %d proxies online (%v)", n, err)
		}
	})
}

// TestRLS_DispatcherScopeReadsWebhooksAndEventsOnly: the dispatcher's scope
// reads every webhook and event and writes nothing.
func TestRLS_DispatcherScopeReadsWebhooksAndEventsOnly(t *testing.T) {
	t.Parallel()
	url, _ := seeded(t)
	conn := connect(t, url)
	inScopeRolledBack(t, conn, "proxyhub.scope", "dispatcher", func(tx pgx.Tx) {
		for table, n := range countRows(t, tx) {
			want := 0
			if table == "webhooks" || table == "events" {
				want = 2 * seedRows[table]
			}
			if n != want {
				t.Errorf("dispatcher scope sees %d rows of %s, want %d", n, table, want)
			}
		}
		if n, err := execIn(t, tx, `UPDATE webhooks SET cursor_id = 0, secret = 'stolen'`); err != nil || n != 0 {
			t.Errorf("dispatcher scope updated %d webhooks (%v), want none", n, err)
		}
		if _, err := execIn(t, tx, `INSERT INTO events (tenant_id, type, proxy, at) VALUES ('acme', 'offline', 'edge-1', now())`); !isRLSViolation(err) {
			t.Errorf("dispatcher scope appending an event: %v, want a row-level security violation", err)
		}
	})
}
