//go:build !unix

package sqlite

import "errors"

// fileLock is unavailable on this system.
type fileLock struct{}

// lockFile fails: without flock the store cannot make sure that it is the
// only process writing the database.
func lockFile(string) (*fileLock, error) {
	return nil, errors.New("sqlite: the embedded durable store needs a Unix system (flock); use --data-dir=:memory: or PostgreSQL")
}

func (*fileLock) unlock() error { return nil }
