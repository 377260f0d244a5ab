package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/store/handoff"
)

// ErrLocked reports that another process holds the database (its lock
// file): only one hub may use a data directory at a time.
var ErrLocked = errors.New("sqlite: database in use")

// errClosed is returned by every call after Close.
var errClosed = fmt.Errorf("sqlite: store is closed: %w", hub.ErrUnavailable)

// translate is the one place that maps driver errors to the store's
// sentinels, prefixing what was being done:
//
//   - sql.ErrNoRows → hub.ErrNotFound
//   - a UNIQUE or PRIMARY KEY violation → hub.ErrConflict
//   - a FOREIGN KEY violation (every foreign key names the tenant, or the
//     webhook of a delivery) → hub.ErrNotFound
//   - a deadline that passed, a busy or locked database, disk full, I/O
//     errors, a closed database → hub.ErrUnavailable (the cause stays
//     wrapped)
//
// A caller's cancellation (context.Canceled) is returned as it is.
func translate(err error, what string) error {
	if err == nil {
		return nil
	}
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("%s: %w", what, hub.ErrNotFound)
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("%s: %w", what, err)
	case unavailable(err):
		return fmt.Errorf("%s: %w: %w", what, hub.ErrUnavailable, err)
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%s: %w", what, hub.ErrConflict)
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return fmt.Errorf("%s: %w", what, hub.ErrNotFound)
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// unavailable reports whether err means the database could not do the
// work now (it may later), rather than that it refused the statement.
func unavailable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, errClosed) || err.Error() == "sql: database is closed" {
		return true
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR,
			sqlite3.SQLITE_INTERRUPT, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_NOMEM, sqlite3.SQLITE_READONLY:
			return true
		}
	}
	return false
}

// ctxError is the error of a call whose context ended
// (handoff.ContextError): a deadline means the store was too slow
// (hub.ErrUnavailable), a cancellation is the caller's own.
func ctxError(ctx context.Context, what string) error {
	return handoff.ContextError(ctx, what)
}
