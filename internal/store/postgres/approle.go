package postgres

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/proxyhub/proxyhub/migrations"
)

// DefaultAppRole is the application role `proxyhub migrate` prepares
// unless told otherwise.
const DefaultAppRole = "proxyhub_app"

// ErrRLSBypassed is returned by Open when the role it connects as is a
// superuser or has BYPASSRLS, so row-level security would not apply to
// it, and Options.AllowBypassRLS is not set.
var ErrRLSBypassed = errors.New("the role bypasses row-level security (superuser or BYPASSRLS)")

// Role describes the role a store connects as.
type Role struct {
	Name string
	// BypassesRLS: a superuser or BYPASSRLS role, to which PostgreSQL never
	// applies row-level security.
	BypassesRLS bool
	// OwnsSchema: the role owns the hub's tables. FORCEd row-level security
	// holds for it, but an owner may turn it off again (ALTER TABLE).
	OwnsSchema bool
}

// currentRole reads who the pool connects as.
func currentRole(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) (Role, error) {
	var r Role
	err := q.QueryRow(ctx, `
		SELECT r.rolname, r.rolsuper OR r.rolbypassrls,
		       coalesce(pg_has_role(current_user, c.relowner, 'USAGE'), false)
		FROM pg_roles r
		LEFT JOIN pg_class c ON c.oid = to_regclass('proxies')
		WHERE r.rolname = current_user`).Scan(&r.Name, &r.BypassesRLS, &r.OwnsSchema)
	return r, translate(err, "read the connected role")
}

// Role reports the role the store connects as.
func (s *Store) Role(ctx context.Context) (Role, error) { return currentRole(ctx, s.pool) }

// roleName is what an application role may be called: an unquoted
// PostgreSQL identifier, so that it reads the same in SQL, URLs and logs.
var roleName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// AppRoleResult says what GrantAppRole did.
type AppRoleResult struct {
	Created        bool // the role did not exist and was created (LOGIN)
	PasswordSet    bool // its password was set
	SchemaVersion  int32
	CurrentVersion bool // the schema is at the version this binary knows
}

// GrantAppRole prepares role as the hub's application role on the database
// pool connects to, which must already be migrated: the role that serve
// connects as, an ordinary role that owns nothing, so that row-level
// security applies to it with no way to turn it off. It creates the role
// (LOGIN) when it does not exist, sets its password when password is not
// empty, and grants exactly what the hub needs, again on every run so
// that tables added by later migrations are covered:
//
//   - every table of the schema: SELECT, INSERT, UPDATE, DELETE, except
//     that the append-only history (ip_changes, denied, events,
//     webhook_deliveries) gets no UPDATE (DELETE stays for retention, which
//     the database itself confines to old rows) and the migration version
//     table is read-only; no TRUNCATE, REFERENCES or TRIGGER anywhere;
//   - the schema's sequences: USAGE and SELECT.
//
// pool must connect as the tables' owner (or a superuser), and as a role
// that may create roles when role does not exist yet. A role that is a
// superuser, has BYPASSRLS or is the connecting role itself is refused.
func GrantAppRole(ctx context.Context, pool *pgxpool.Pool, role, password string) (AppRoleResult, error) {
	var res AppRoleResult
	if !roleName.MatchString(role) {
		return res, fmt.Errorf("application role %q: use lower-case letters, digits and _ (at most 63), starting with a letter or _", role)
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return res, translate(err, "application role")
	}
	defer tx.Rollback(context.Background())

	var me, schema string
	var exists, bypasses bool
	err = tx.QueryRow(ctx, `
		SELECT current_user, current_schema(),
		       EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1),
		       coalesce((SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = $1), false)`, role).
		Scan(&me, &schema, &exists, &bypasses)
	if err != nil {
		return res, translate(err, "application role")
	}
	switch {
	case role == me:
		return res, fmt.Errorf("application role %s is the role migrating the database: the application role must be another one, which owns nothing", role)
	case bypasses:
		return res, fmt.Errorf("application role %s is a superuser or has BYPASSRLS: row-level security would not apply to it", role)
	}
	if err := tx.QueryRow(ctx, `SELECT version FROM `+VersionTable).Scan(&res.SchemaVersion); err != nil {
		return res, translate(err, "application role: read the schema version (migrate first)")
	}
	latest, err := LatestSchemaVersion()
	if err != nil {
		return res, err
	}
	res.CurrentVersion = res.SchemaVersion == latest

	ident := pgx.Identifier{role}.Sanitize()
	if !exists {
		if _, err := tx.Exec(ctx, `CREATE ROLE `+ident+` LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT`); err != nil {
			return res, fmt.Errorf("create application role %s (as %s; create it yourself with CREATE ROLE %s LOGIN PASSWORD '…', or migrate as a role that may create roles): %w",
				role, me, role, translate(err, "create role"))
		}
		res.Created = true
	}
	if password != "" {
		// A utility statement takes no parameters: format() quotes the
		// password as a literal on the server.
		var stmt string
		if err := tx.QueryRow(ctx, `SELECT format('ALTER ROLE %I PASSWORD %L', $1::text, $2::text)`, role, password).Scan(&stmt); err != nil {
			return res, translate(err, "application role password")
		}
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return res, fmt.Errorf("set the password of application role %s: %w", role, translate(err, "alter role"))
		}
		res.PasswordSet = true
	}
	sch := pgx.Identifier{schema}.Sanitize()
	grants := []string{
		`GRANT USAGE ON SCHEMA ` + sch + ` TO ` + ident,
		`REVOKE ALL ON ALL TABLES IN SCHEMA ` + sch + ` FROM ` + ident,
		`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ` + sch + ` TO ` + ident,
		`REVOKE UPDATE ON ip_changes, denied, events, webhook_deliveries FROM ` + ident,
		`REVOKE INSERT, UPDATE, DELETE ON ` + VersionTable + ` FROM ` + ident,
		`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA ` + sch + ` TO ` + ident,
	}
	for _, g := range grants {
		if _, err := tx.Exec(ctx, g); err != nil {
			return res, fmt.Errorf("application role %s: %s: %w", role, g, translate(err, "grant"))
		}
	}
	return res, translate(tx.Commit(ctx), "application role: commit")
}

// LatestSchemaVersion is the number of the last migration this binary
// carries.
func LatestSchemaVersion() (int32, error) {
	names, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil {
		return 0, fmt.Errorf("migrations: %w", err)
	}
	var n int32
	for _, name := range names {
		if m, _ := path.Match("[0-9][0-9][0-9]_*.sql", name); m {
			n++
		}
	}
	return n, nil
}
