package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
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
// rows make it fold sooner. A fold writes each proxy that moved since the
// last one once, however often it beat: the longer the interval, the
// fewer rows written, and the longer the log that an open after a crash
// replays (at 20,000 heartbeats/s, 30 s of log is ~10 MB, replayed in
// well under a second).
const (
	checkpointEvery = 30 * time.Second
	checkpointRows  = 65536
)

// foldChunk is how many proxy rows one step of a fold writes: the longest
// a heartbeat batch waits behind a fold is one such transaction.
const foldChunk = 500

// fold is a checkpoint in progress. It writes the rows of the proxies
// that were dirty when it began, foldChunk per transaction, with the
// writer free to write heartbeat batches between them; the last step
// deletes the log up to the position where the fold began, whose entries
// every row then covers. A proxy that beats during the fold is dirty
// again, for the next one. Store.wmu guards it.
type fold struct {
	active  bool
	rows    []*proxyRec // the rows still to write
	upTo    int64       // the log position the fold began at
	logRows int         // the log rows up to upTo
}

// beginFold starts a checkpoint. The writer lock must be held.
func (s *Store) beginFold() {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := &s.fold
	f.active, f.rows = true, f.rows[:0]
	for p := range s.st.dirty {
		f.rows = append(f.rows, p)
	}
	clear(s.st.dirty)
	// In row order, a step's rows share their B-tree pages: a step writes
	// a few dozen pages to the WAL instead of one page per row.
	slices.SortFunc(f.rows, func(a, b *proxyRec) int { return cmp.Compare(a.id, b.id) })
	f.upTo, f.logRows = s.st.seq.batch, s.st.logRows
}

// foldStep writes the next rows of the fold in one transaction
// and, with the last of them, deletes the log the fold covers. On failure
// the fold is abandoned: its rows are dirty again (or, when COMMIT
// failed, the state is read again from the database, log replayed). The
// writer lock must be held.
func (s *Store) foldStep(ctx context.Context) error {
	f := &s.fold
	n := min(len(f.rows), foldChunk)
	err := s.writeFoldRows(ctx, f.rows[:n], n == len(f.rows))
	if err == nil {
		if f.rows = f.rows[n:]; len(f.rows) > 0 {
			return nil
		}
		s.mu.Lock()
		s.st.logRows -= f.logRows
		s.mu.Unlock()
		s.endFold()
		return nil
	}
	if errors.Is(err, errCommit) {
		s.reload("checkpoint", err) // abandons the fold, unless it cannot read the database
	}
	if f.active {
		s.mu.Lock()
		for _, p := range f.rows {
			s.st.dirty[p] = struct{}{}
		}
		s.mu.Unlock()
		s.endFold()
	}
	return err
}

// endFold ends the fold in progress, keeping its buffer.
func (s *Store) endFold() {
	clear(s.fold.rows)
	s.fold = fold{rows: s.fold.rows[:0]}
}

// errCommit marks a failed COMMIT: what the database kept is unknown.
var errCommit = errors.New("sqlite: commit failed")

// writeFoldRows writes rows, and deletes the log up to the fold's
// position if last, in one transaction.
func (s *Store) writeFoldRows(ctx context.Context, rows []*proxyRec, last bool) error {
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	write := tx.StmtContext(ctx, s.stmt.writeProxy)
	for _, p := range rows {
		if _, err := write.ExecContext(ctx, proxyRowArgs(p, s.st.seq.batch)...); err != nil {
			return err
		}
	}
	if last {
		if _, err := tx.ExecContext(ctx, `DELETE FROM heartbeat_log WHERE id <= ?`, s.fold.upTo); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%w: %w", errCommit, err)
	}
	return nil
}

// checkpoint folds the whole heartbeat log into the proxies rows: it
// finishes a fold in progress, then folds what is left. It is for when no
// heartbeats are written meanwhile (open, close). The writer lock must be
// held.
func (s *Store) checkpoint(ctx context.Context) error {
	for {
		if !s.fold.active {
			if len(s.st.dirty) == 0 && s.st.logRows == 0 {
				return nil
			}
			s.beginFold()
		}
		if err := s.foldStep(ctx); err != nil {
			return err
		}
	}
}
