// Package pgtest gives each test its own PostgreSQL database.
//
// The server comes from PROXYHUB_TEST_DATABASE_URL, a URL of a role that
// may create roles and databases (a superuser is simplest, e.g.
// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable); scripts/test.sh
// finds or starts one. Without it the tests that need a database are
// skipped, or fail when CI=true.
//
// Test databases are owned by, and URLs connect as, the role proxyhub_test:
// an ordinary role (not a superuser, no BYPASSRLS), so that row-level
// security is in force for the store exactly as in production, where the
// store connects as the role that owns its schema. The role is created on
// first use. If the server's URL is itself an ordinary role that may not
// create roles, that role is used instead.
//
// URL clones a migrated template database, created once per migration set
// under an advisory lock, so a fresh database costs one CREATE DATABASE.
// Templates (proxyhub_tmpl_<digest of the migrations>) stay on the server
// for the next run; the tests never drop one, since another checkout may be
// using it. Drop stale ones at will (ALTER DATABASE … IS_TEMPLATE false;
// DROP DATABASE …).
package pgtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/proxyhub/proxyhub/internal/store/postgres"
	"github.com/proxyhub/proxyhub/migrations"
)

// EnvURL names the environment variable holding the test server's URL.
const EnvURL = "PROXYHUB_TEST_DATABASE_URL"

// Role is the ordinary role that owns test databases; its password is the
// same as its name.
const Role = "proxyhub_test"

// AppRole is the application role of test databases (AppURL); its
// password is the same as its name.
const AppRole = "proxyhub_test_app"

// lockKey is the advisory lock (in the server URL's database) under which
// the role and the template are created, across test processes.
const lockKey = int64(0x70726f787968) // "proxyh"

// server is the test server as set up once per process.
type server struct {
	admin    *pgxpool.Pool // the server URL's role, for CREATE/DROP DATABASE
	base     *url.URL      // the server URL
	role     *url.Userinfo // who test URLs connect as
	app      *url.Userinfo // who AppURL connects as; nil: the server cannot create it
	template string        // the migrated template database
}

var (
	setupOnce sync.Once
	setup     *server
	setupErr  error
)

// URL returns the URL of a new database for this test, with the schema
// migrated to the latest version and no data, connecting as the ordinary
// role that owns it. The database is dropped when the test ends. Safe for
// parallel tests.
func URL(t testing.TB) string {
	t.Helper()
	s := get(t)
	return s.newDatabase(t, s.template)
}

// EmptyURL is URL without the migrations: the database has no schema at
// all, for tests of migrating.
func EmptyURL(t testing.TB) string {
	t.Helper()
	return get(t).newDatabase(t, "template0")
}

// AdminURL returns dbURL (from URL or EmptyURL) with the credentials of the
// server URL instead of the test role: usually a superuser, to which
// row-level security and privileges do not apply.
func AdminURL(t testing.TB, dbURL string) string {
	t.Helper()
	s := get(t)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	u.User = s.base.User
	return u.String()
}

// AppURL returns dbURL (from URL) connecting as the application role
// instead of the owner: an ordinary role that owns nothing and holds only
// what postgres.GrantAppRole grants it on that database, as `proxyhub
// serve` connects in production.
func AppURL(t testing.TB, dbURL string) string {
	t.Helper()
	s := get(t)
	if s.app == nil {
		t.Fatalf("pgtest: the server URL's role may not create roles, so there is no application role (%s)", AppRole)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	defer pool.Close()
	if _, err := postgres.GrantAppRole(ctx, pool, AppRole, ""); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	u.User = s.app
	return u.String()
}

// get returns the test server, set up on first use; it skips or fails the
// test when there is none.
func get(t testing.TB) *server {
	t.Helper()
	raw := os.Getenv(EnvURL)
	if raw == "" {
		const msg = "no test database: set " + EnvURL + " to a PostgreSQL server URL whose role may create roles and databases " +
			"(e.g. postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable), or run bash scripts/test.sh"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	setupOnce.Do(func() { setup, setupErr = prepare(raw) })
	if setupErr != nil {
		t.Fatalf("pgtest: %v", setupErr)
	}
	return setup
}

// prepare connects to the server and makes sure the role and the template
// exist.
func prepare(raw string) (*server, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	base, err := url.Parse(raw)
	if err != nil || (base.Scheme != "postgres" && base.Scheme != "postgresql") {
		return nil, fmt.Errorf("%s must be a postgres:// URL", EnvURL)
	}
	cfg, err := pgxpool.ParseConfig(raw)
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = 4
	admin, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	s := &server{admin: admin, base: base}
	err = s.locked(ctx, func(conn *pgx.Conn) error {
		if err := s.ensureRole(ctx, conn); err != nil {
			return err
		}
		return s.ensureTemplate(ctx, conn)
	})
	if err != nil {
		admin.Close()
		return nil, fmt.Errorf("preparing %s:%s%s: %w", base.Hostname(), base.Port(), base.Path, err)
	}
	return s, nil
}

// locked runs fn on an admin connection holding the setup lock.
func (s *server) locked(ctx context.Context, fn func(*pgx.Conn) error) error {
	conn, err := s.admin.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", lockKey); err != nil {
		return err
	}
	defer func() {
		// The lock goes with the session anyway, should this fail.
		_, _ = conn.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", lockKey)
	}()
	return fn(conn.Conn())
}

// ensureRole creates the test role if needed, or falls back to the admin
// role when that is itself an ordinary role that cannot create others.
func (s *server) ensureRole(ctx context.Context, conn *pgx.Conn) error {
	var me string
	var super, bypass, createRole bool
	err := conn.QueryRow(ctx, `SELECT rolname, rolsuper, rolbypassrls, rolcreaterole FROM pg_roles WHERE rolname = current_user`).
		Scan(&me, &super, &bypass, &createRole)
	if err != nil {
		return err
	}
	if !super && !createRole {
		if bypass {
			return fmt.Errorf("role %s bypasses row-level security and cannot create an ordinary role for the tests", me)
		}
		s.role = s.base.User
		return nil
	}
	s.role = url.UserPassword(Role, Role)
	var exists, roleBypasses bool
	err = conn.QueryRow(ctx, `SELECT count(*) > 0, coalesce(bool_or(rolsuper OR rolbypassrls), false) FROM pg_roles WHERE rolname = $1`, Role).
		Scan(&exists, &roleBypasses)
	if err != nil {
		return err
	}
	if !exists {
		_, err = conn.Exec(ctx, `CREATE ROLE `+Role+` LOGIN PASSWORD '`+Role+`' NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE`)
		if err != nil {
			return fmt.Errorf("create role %s: %w", Role, err)
		}
	} else if roleBypasses {
		return fmt.Errorf("role %s exists but is a superuser or BYPASSRLS: drop it and let the tests recreate it", Role)
	}
	_, err = conn.Exec(ctx, `DO $$BEGIN
		CREATE ROLE `+AppRole+` LOGIN PASSWORD '`+AppRole+`' NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT;
	EXCEPTION WHEN duplicate_object THEN NULL; END$$`)
	if err != nil {
		return fmt.Errorf("create role %s: %w", AppRole, err)
	}
	s.app = url.UserPassword(AppRole, AppRole)
	if !super {
		// CREATE DATABASE … OWNER needs membership in the owner.
		if _, err := conn.Exec(ctx, `GRANT `+Role+` TO CURRENT_USER`); err != nil {
			return fmt.Errorf("grant %s to %s: %w", Role, me, err)
		}
	}
	return nil
}

// ensureTemplate creates and migrates the template database of the current
// migration set, unless a complete one exists (marked by datistemplate,
// set last).
func (s *server) ensureTemplate(ctx context.Context, conn *pgx.Conn) error {
	sum, err := migrationsDigest()
	if err != nil {
		return err
	}
	s.template = "proxyhub_tmpl_" + sum
	var exists, complete bool
	err = conn.QueryRow(ctx, `SELECT count(*) > 0, coalesce(bool_or(datistemplate), false) FROM pg_database WHERE datname = $1`, s.template).
		Scan(&exists, &complete)
	if err != nil || complete {
		return err
	}
	if exists { // left half-made by a process that died
		if _, err := conn.Exec(ctx, `DROP DATABASE `+s.template+` WITH (FORCE)`); err != nil {
			return err
		}
	}
	if err := createDatabase(ctx, conn, s.template, "template0", s.roleName()); err != nil {
		return err
	}
	pool, err := pgxpool.New(ctx, s.urlFor(s.template))
	if err != nil {
		return err
	}
	err = postgres.Migrate(ctx, pool)
	pool.Close()
	if err != nil {
		return fmt.Errorf("migrate template: %w", err)
	}
	_, err = conn.Exec(ctx, `ALTER DATABASE `+s.template+` WITH IS_TEMPLATE true ALLOW_CONNECTIONS false`)
	return err
}

// newDatabase creates a database from template for t and drops it when t
// ends.
func (s *server) newDatabase(t testing.TB, template string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := "proxyhub_test_" + randomHex(8)
	conn, err := s.admin.Acquire(ctx)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	err = createDatabase(ctx, conn.Conn(), name, template, s.roleName())
	conn.Release()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := s.admin.Exec(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			t.Logf("pgtest: drop database %s: %v", name, err)
		}
	})
	return s.urlFor(name)
}

// createDatabase runs CREATE DATABASE, retrying while the template is
// briefly in use (a session that just disconnected from it).
func createDatabase(ctx context.Context, conn *pgx.Conn, name, template, owner string) error {
	sql := fmt.Sprintf(`CREATE DATABASE %s TEMPLATE %s OWNER %s ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'`,
		pgx.Identifier{name}.Sanitize(), pgx.Identifier{template}.Sanitize(), pgx.Identifier{owner}.Sanitize())
	for {
		_, err := conn.Exec(ctx, sql)
		var pgErr *pgconn.PgError
		if err == nil || !errors.As(err, &pgErr) || pgErr.Code != "55006" { // object_in_use
			if err != nil {
				return fmt.Errorf("create database %s: %w", name, err)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("create database %s: %w", name, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (s *server) roleName() string { return s.role.Username() }

// urlFor returns the URL of database name, as the test role.
func (s *server) urlFor(name string) string {
	u := *s.base
	u.User = s.role
	u.Path = "/" + name
	u.RawPath = ""
	return u.String()
}

// migrationsDigest names the migration set: a short hash of its files.
func migrationsDigest() (string, error) {
	h := sha256.New()
	err := fs.WalkDir(migrations.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(migrations.FS, path)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", path, len(b))
		h.Write(b)
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))[:16], err
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
