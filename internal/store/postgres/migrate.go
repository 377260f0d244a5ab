package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/tern/v2/migrate"

	"github.com/proxyhub/proxyhub/migrations"
)

// VersionTable is the table in which tern records the schema version.
const VersionTable = "proxyhub_schema_version"

// Migrate applies the pending migrations of the migrations package on one
// connection of pool, each in its own transaction. tern holds a session
// advisory lock meanwhile, so hubs that start together take turns and the
// later ones find nothing left to do; running Migrate on an up-to-date
// database changes nothing. A database migrated further than this binary
// knows is an error.
//
// The role that migrates owns the tables, and is the role the store must
// connect as (see the package documentation on row-level security).
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return translate(err, "migrate")
	}
	defer conn.Release()
	m, err := migrate.NewMigrator(ctx, conn.Conn(), VersionTable)
	if err != nil {
		return translate(err, "migrate: version table")
	}
	if err := m.LoadMigrations(migrations.FS); err != nil {
		return fmt.Errorf("migrate: load: %w", err)
	}
	if err := m.Migrate(ctx); err != nil {
		return translate(err, "migrate")
	}
	return nil
}

// SchemaVersion returns the number of the last migration applied to the
// database pool connects to (0: none).
func SchemaVersion(ctx context.Context, pool *pgxpool.Pool) (int32, error) {
	var v int32
	err := pool.QueryRow(ctx, "SELECT version FROM "+VersionTable).Scan(&v)
	return v, translate(err, "schema version")
}
