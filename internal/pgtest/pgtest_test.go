package pgtest_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/proxyhub/proxyhub/internal/pgtest"
)

func connect(t *testing.T, dbURL string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func dbName(t *testing.T, dbURL string) string {
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(u.Path, "/")
}

func TestURL_FreshMigratedDatabaseForAnOrdinaryRole(t *testing.T) {
	t.Parallel()
	a, b := pgtest.URL(t), pgtest.URL(t)
	if dbName(t, a) == dbName(t, b) {
		t.Fatalf("two calls returned the same database %s", dbName(t, a))
	}
	conn := connect(t, a)
	var super, bypass, owner bool
	var tables, proxies int
	err := conn.QueryRow(context.Background(), `
		SELECT r.rolsuper, r.rolbypassrls, d.datdba = r.oid,
		       (SELECT count(*) FROM pg_tables WHERE schemaname = 'public'),
		       (SELECT count(*) FROM proxies)
		  FROM pg_roles r, pg_database d
		 WHERE r.rolname = current_user AND d.datname = current_database()`).Scan(&super, &bypass, &owner, &tables, &proxies)
	if err != nil {
		t.Fatal(err)
	}
	if super || bypass || !owner {
		t.Fatalf("the test role: superuser=%v bypassrls=%v owns the database=%v; want an ordinary owner", super, bypass, owner)
	}
	if tables < 7 || proxies != 0 {
		t.Fatalf("%d tables, %d proxies: want the migrated schema, empty", tables, proxies)
	}
}

func TestEmptyURL_HasNoSchema(t *testing.T) {
	t.Parallel()
	conn := connect(t, pgtest.EmptyURL(t))
	var tables int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 0 {
		t.Fatalf("%d tables in an empty database", tables)
	}
}

func TestURL_DatabaseIsDroppedWhenTheTestEnds(t *testing.T) {
	t.Parallel()
	var name, admin string
	t.Run("user", func(t *testing.T) {
		dbURL := pgtest.URL(t)
		name, admin = dbName(t, dbURL), pgtest.AdminURL(t, dbURL)
	})
	u, _ := url.Parse(admin)
	u.Path = "/postgres"
	conn := connect(t, u.String())
	var n int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_database WHERE datname = $1`, name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("database %s still exists after its test ended", name)
	}
}
