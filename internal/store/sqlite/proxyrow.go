package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
)

// proxyRowArgs are the parameters of statements.writeProxy for p, whose
// state includes the heartbeat log up to position seq.
func proxyRowArgs(p *proxyRec, seq int64) []any {
	state := hub.StateOnline
	if p.offline {
		state = hub.StateOffline
	}
	return []any{p.ip.String(), addrText(p.peer), p.lastSeen, p.ipChanges, state, boolInt(p.paused),
		int64(p.offlineAfter), p.deadline, seq, p.id}
}

// writeRow stores p's whole state in its row, as of the current heartbeat
// log position. Every write of a proxy row but the heartbeat log's goes
// through it, so that replaying the log at open never takes a row back.
// The writer lock must be held.
func (s *Store) writeRow(ctx context.Context, tx *sql.Tx, p *proxyRec) error {
	_, err := tx.StmtContext(ctx, s.stmt.writeProxy).ExecContext(ctx, proxyRowArgs(p, s.st.seq.batch)...)
	return err
}

// checkpointEvery is how often the writer folds the heartbeat log into the
// proxies rows while heartbeats arrive, and checkpointRows how many log
// rows make it fold sooner.
const (
	checkpointEvery = time.Second
	checkpointRows  = 4096
)

// checkpoint folds the heartbeat log into the proxies rows: it writes the
// rows of the dirty proxies and deletes the log, in one transaction. The
// writer lock must be held.
func (s *Store) checkpoint(ctx context.Context) error {
	if len(s.st.dirty) == 0 && s.st.logRows == 0 {
		return nil
	}
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	write := tx.StmtContext(ctx, s.stmt.writeProxy)
	for p := range s.st.dirty {
		if _, err := write.ExecContext(ctx, proxyRowArgs(p, s.st.seq.batch)...); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM heartbeat_log WHERE id <= ?`, s.st.seq.batch); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		s.reload("checkpoint", err)
		return err
	}
	s.mu.Lock()
	clear(s.st.dirty)
	s.st.logRows = 0
	s.mu.Unlock()
	return nil
}
