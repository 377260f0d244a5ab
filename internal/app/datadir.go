package app

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/proxyhub/proxyhub/internal/auth"
	"github.com/proxyhub/proxyhub/internal/config"
	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/store/memory"
	"github.com/proxyhub/proxyhub/internal/store/sqlite"
)

// The embedded store's data directory: the database and, unless a key file
// is configured, the hub's signing key.
const (
	// DatabaseFile is the embedded store's database in the data directory.
	DatabaseFile = "proxyhub.db"
	// KeyFile is the hub's own signing key in the data directory.
	KeyFile = "signing.key"
)

// MemoryWarning is what the hub logs (and prints at start-up) when it runs
// on the in-memory store.
const MemoryWarning = "in-memory store (--data-dir=" + config.MemoryDataDir + "): NOTHING IS KEPT; every tenant, token, proxy and record is lost when the hub stops"

// openEmbedded opens the embedded store of the data directory dir, creating
// the directory (mode 0700) when missing, or the in-memory store for
// config.MemoryDataDir. It returns the directory's absolute path
// (config.MemoryDataDir for memory).
func openEmbedded(ctx context.Context, dir string, log *slog.Logger) (hub.Store, string, error) {
	if dir == config.MemoryDataDir {
		log.Warn(MemoryWarning)
		return memory.New(), dir, nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, "", dataDirError(err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, "", dataDirError(err)
	}
	octx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	st, err := sqlite.Open(octx, filepath.Join(abs, DatabaseFile), sqlite.Options{Logger: log})
	if err != nil {
		return nil, "", dataDirError(err)
	}
	return st, abs, nil
}

func dataDirError(err error) error {
	return &config.Error{Setting: "data-dir", Env: "PROXYHUB_DATA_DIR", Err: err}
}

// dataDirKey returns the hub's own signing key, kept in the data directory
// dir: made (mode 0600) on the first start, read on every later one. A key
// file that group or others may read or write is refused: whoever reads
// it can mint platform JWTs.
func dataDirKey(dir string) (ed25519.PrivateKey, string, error) {
	path := filepath.Join(dir, KeyFile)
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		key, err := auth.GenerateKeyFile(path)
		if err != nil {
			return nil, "", dataDirError(err)
		}
		return key, path, nil
	case err != nil:
		return nil, "", dataDirError(err)
	case !fi.Mode().IsRegular():
		return nil, "", dataDirError(fmt.Errorf("%s is not a regular file", path))
	case fi.Mode().Perm()&0o077 != 0:
		return nil, "", dataDirError(fmt.Errorf("%s has mode %04o: group or others may read it, and whoever reads it can mint platform JWTs; make it private (chmod 600 %s)",
			path, fi.Mode().Perm(), path))
	}
	key, err := auth.LoadKeyFile(path)
	if err != nil {
		return nil, "", dataDirError(err)
	}
	return key, path, nil
}
