package sqlite

import (
	"context"
	"database/sql"
	"strconv"
)

// SetSchemaVersionForTest sets the user_version of the database at path.
func SetSchemaVersionForTest(path string, v int) error {
	db, err := sql.Open("sqlite", path)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.Exec("PRAGMA user_version = " + strconv.Itoa(v))
	return err
}

// ExecForTest runs stmt on the store's writer connection, in a
// transaction of its own.
func ExecForTest(s *Store, stmt string) error {
	return s.update(context.Background(), "test", func(ctx context.Context, tx *sql.Tx) (func(), error) {
		_, err := tx.ExecContext(ctx, stmt)
		return nil, err
	})
}
