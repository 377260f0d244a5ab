package postgres_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/pgtest"
	"github.com/proxyhub/proxyhub/internal/store/postgres"
	"github.com/proxyhub/proxyhub/internal/store/storetest"
)

// The hub works through the application role: every store operation of
// the conformance suites needs no more than GrantAppRole grants.
func TestConformance_AsApplicationRole(t *testing.T) {
	storetest.Run(t, func(t *testing.T) hub.Store {
		return open(t, pgtest.AppURL(t, pgtest.URL(t)), postgres.Options{AutoMigrate: true})
	})
}

func TestLivenessConformance_AsApplicationRole(t *testing.T) {
	storetest.RunLiveness(t, func(t *testing.T) storetest.LiveStore {
		return open(t, pgtest.AppURL(t, pgtest.URL(t)), postgres.Options{AutoMigrate: true})
	})
}

func TestRLS_ApplicationRoleWithoutATenantSeesNothing(t *testing.T) {
	t.Parallel()
	url, _ := seeded(t)
	conn := connect(t, pgtest.AppURL(t, url))
	ctx := context.Background()

	for table, n := range countRows(t, conn) {
		if n != 0 {
			t.Errorf("the application role without a tenant sees %d rows of %s, want 0", n, table)
		}
	}
	tag, err := conn.Exec(ctx, `UPDATE proxies SET ip = '203.0.113.66'`)
	if err != nil || tag.RowsAffected() != 0 {
		t.Fatalf("unscoped UPDATE of proxies: %v, %d rows; want none touched", err, tag.RowsAffected())
	}
	// Not the owner: it can neither switch row-level security off nor
	// rewrite history, whatever scope it sets.
	refused := []string{
		`ALTER TABLE proxies NO FORCE ROW LEVEL SECURITY`,
		`ALTER TABLE proxies DISABLE ROW LEVEL SECURITY`,
		`DROP POLICY tenant_isolation ON proxies`,
		`UPDATE ip_changes SET new_ip = '203.0.113.66'`,
		`TRUNCATE events`,
		`DELETE FROM proxyhub_schema_version`,
		`CREATE TABLE intruder (x int)`,
	}
	for _, stmt := range refused {
		_, err := conn.Exec(ctx, stmt)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || (pgErr.Code != "42501" && pgErr.Code != "42809") {
			t.Errorf("%s: %v, want permission denied", stmt, err)
		}
	}
	// The rows are all still there.
	admin := connect(t, pgtest.AdminURL(t, url))
	if got := countRows(t, admin); got["proxies"] != 2 || got["ip_changes"] != 2 {
		t.Fatalf("rows after the attempts: %v", got)
	}
}

func TestOpen_RefusesARoleThatBypassesRowLevelSecurity(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	adminURL := pgtest.AdminURL(t, url)
	var super bool
	if err := connect(t, adminURL).QueryRow(context.Background(), `SELECT rolsuper FROM pg_roles WHERE rolname = current_user`).Scan(&super); err != nil {
		t.Fatal(err)
	}
	if !super {
		t.Skip("the test server's role is not a superuser")
	}
	ctx := context.Background()
	_, err := postgres.Open(ctx, adminURL, postgres.Options{})
	if !errors.Is(err, postgres.ErrRLSBypassed) || !strings.Contains(err.Error(), "PROXYHUB_ALLOW_SUPERUSER") {
		t.Fatalf("Open as a superuser: %v, want ErrRLSBypassed naming the override", err)
	}

	cases := []struct {
		name string
		url  string
		opts postgres.Options
		want string // in the log; "" for nothing
	}{
		{"superuser allowed", adminURL, postgres.Options{AllowBypassRLS: true}, "row-level security is not enforced"},
		{"owner", url, postgres.Options{WarnOwner: true}, "connected as the owner of the tables"},
		{"application role", pgtest.AppURL(t, url), postgres.Options{WarnOwner: true}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			var mu sync.Mutex
			tc.opts.Logger = slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))
			open(t, tc.url, tc.opts)
			mu.Lock()
			defer mu.Unlock()
			if tc.want == "" && logs.Len() != 0 || !strings.Contains(logs.String(), tc.want) {
				t.Fatalf("logged %q, want %q", logs.String(), tc.want)
			}
		})
	}
}

func TestGrantAppRole_RefusesRolesThatWouldDefeatIt(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var me string
	if err := pool.QueryRow(ctx, `SELECT current_user`).Scan(&me); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ role, want string }{
		{me, "is the role migrating the database"},
		{"postgres", "superuser"},
		{"Robert'); DROP TABLE proxies;--", "use lower-case letters"},
		{"", "use lower-case letters"},
	}
	for _, tc := range cases {
		if _, err := postgres.GrantAppRole(ctx, pool, tc.role, ""); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("GrantAppRole(%q): %v, want an error with %q", tc.role, err, tc.want)
		}
	}
	// Granting again changes nothing and fails nothing.
	for range 2 {
		res, err := postgres.GrantAppRole(ctx, pool, pgtest.AppRole, "")
		if err != nil || res.Created || !res.CurrentVersion {
			t.Fatalf("GrantAppRole(%s) = %+v, %v", pgtest.AppRole, res, err)
		}
	}
}
