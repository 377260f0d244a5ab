package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
)

// historyTables are the tables PruneHistory deletes from; each has an
// index on at.
var historyTables = []string{"ip_changes", "denied", "events", "webhook_deliveries"}

// PruneHistory implements hub.AuditStore: in one transaction, at most max
// of the oldest records of each kind recorded before before. The
// database's triggers refuse to delete a record of the last day by its own
// clock, whatever before says.
func (s *Store) PruneHistory(ctx context.Context, before time.Time, max int) (int64, error) {
	const what = "sqlite: prune history"
	if err := hub.CheckPruneBefore(before, time.Now()); err != nil {
		return 0, err
	}
	limit := int64(max)
	if max <= 0 {
		limit = -1 // SQLite: no limit
	}
	var total int64
	err := s.update(ctx, what, func(ctx context.Context, tx *sql.Tx) (func(), error) {
		total = 0
		for _, table := range historyTables {
			res, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE id IN (SELECT id FROM `+table+` WHERE at < ? ORDER BY at LIMIT ?)`,
				before.UnixNano(), limit)
			if err != nil {
				return nil, translate(err, what)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return nil, translate(err, what)
			}
			total += n
		}
		return nil, nil
	})
	if err != nil {
		return 0, err
	}
	return total, nil
}
