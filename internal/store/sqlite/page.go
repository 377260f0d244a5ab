package sqlite

import (
	"context"
	"database/sql"
	"slices"
)

// pageSize is how many rows one query of a history scan reads. A scan
// reads its selection in pages by id (keyset), each in a short read
// transaction of its own, and calls back between pages holding no
// connection: a slow consumer (an export streamed to a slow client) then
// neither pins a connection nor keeps the WAL from being checkpointed, and
// the callback may use the store.
const pageSize = 500

// page is a history selection: a SELECT whose WHERE clause filters (the
// table's key is id), its order and its limit (0: all).
type page struct {
	sql       string
	args      []any
	ascending bool
	limit     int
}

// scanPages calls fn for each row p selects, in p's order by id, at most
// p.limit; it stops at fn's first error and returns it.
func scanPages[T any](ctx context.Context, s *Store, p page, scan func(*sql.Rows) (T, error), fn func(T) error, id func(T) int64) error {
	if s.isClosed() {
		return errClosed
	}
	order, next := " ORDER BY id DESC LIMIT ?", " AND id < ?"
	if p.ascending {
		order, next = " ORDER BY id ASC LIMIT ?", " AND id > ?"
	}
	left := p.limit
	var cursor int64
	buf := make([]T, 0, pageSize)
	for first := true; ; first = false {
		n := pageSize
		if p.limit > 0 {
			n = min(n, left)
		}
		query, args := p.sql, slices.Clone(p.args)
		if !first {
			query, args = query+next, append(args, cursor)
		}
		var err error
		if buf, err = readPage(ctx, s.rdb, query+order, append(args, n), scan, buf[:0]); err != nil {
			if ctx.Err() != nil {
				return ctxError(ctx, "sqlite: read history")
			}
			return translate(err, "sqlite: read history")
		}
		for _, r := range buf {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := fn(r); err != nil {
				return err
			}
		}
		left -= len(buf)
		if len(buf) < n || (p.limit > 0 && left <= 0) {
			return nil
		}
		cursor = id(buf[len(buf)-1])
	}
}

// readPage runs one page's query and appends its rows to buf.
func readPage[T any](ctx context.Context, db *sql.DB, query string, args []any, scan func(*sql.Rows) (T, error), buf []T) ([]T, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return buf, err
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scan(rows)
		if err != nil {
			return buf, err
		}
		buf = append(buf, r)
	}
	return buf, rows.Err()
}
