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

// FoldStepForTest begins a fold of the heartbeat log unless one is in
// progress and runs one step of it; it reports whether the fold goes on.
func FoldStepForTest(s *Store) (bool, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if !s.fold.active {
		s.beginFold()
	}
	err := s.foldStep(context.Background())
	return s.fold.active, err
}

// CrashForTest stops s as a crash would right after its last COMMIT: the
// heartbeat log is not folded and nothing else is written.
func CrashForTest(s *Store) error {
	s.qmu.Lock()
	s.closed = true
	close(s.queue)
	s.qmu.Unlock()
	s.wg.Wait()
	err := s.closeDBs()
	if uerr := s.lock.unlock(); err == nil {
		err = uerr
	}
	return err
}

// LogRowsForTest counts the rows of the heartbeat log in the database.
func LogRowsForTest(s *Store) (int, error) {
	var n int
	err := s.rdb.QueryRow(`SELECT count(*) FROM heartbeat_log`).Scan(&n)
	return n, err
}

// FoldChunk is how many proxy rows one fold step writes.
const FoldChunk = foldChunk
