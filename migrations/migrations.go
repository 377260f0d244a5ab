// Package migrations holds the numbered SQL migrations of the PostgreSQL
// store (001_*.sql, 002_*.sql, …), embedded into the binary. They are applied
// in order by postgres.Migrate with jackc/tern, which records the version
// reached in proxyhub_schema_version and holds an advisory lock while it
// works, so hubs starting together never apply a migration twice.
//
// A migration, once released, is never edited: change the schema by adding
// the next number. Files are tern templates, so SQL must not contain "{{".
package migrations

import "embed"

// FS is the set of migration files, named NNN_description.sql, at its root.
//
//go:embed *.sql
var FS embed.FS
