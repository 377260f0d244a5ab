package sqlite

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// The heartbeat log (see schema/001_schema.sql): the steady-state
// heartbeats of a batch, as one row. A steady-state heartbeat changes only
// a proxy's last_seen, peer_ip and deadline, which the log can replay; a
// heartbeat that creates a proxy, changes its IP or brings it back online
// has its proxy's whole row written instead.

// logEntry is one steady-state heartbeat of the log.
type logEntry struct {
	proxy int64      // the proxy's row id
	at    int64      // Unix ns
	peer  netip.Addr // the raw socket peer (may be invalid)
}

// appendEntry appends e's encoding to buf.
func appendEntry(buf []byte, e logEntry) []byte {
	buf = binary.AppendUvarint(buf, uint64(e.proxy))
	buf = binary.AppendVarint(buf, e.at)
	if !e.peer.IsValid() {
		return append(buf, 0)
	}
	b := e.peer.AsSlice()
	buf = append(buf, byte(len(b)))
	return append(buf, b...)
}

var errBadLog = errors.New("sqlite: malformed heartbeat log entry")

// decodeEntries calls fn for each entry of one log row.
func decodeEntries(buf []byte, fn func(logEntry)) error {
	for len(buf) > 0 {
		var e logEntry
		id, n := binary.Uvarint(buf)
		if n <= 0 {
			return errBadLog
		}
		buf = buf[n:]
		at, n := binary.Varint(buf)
		if n <= 0 || len(buf) < n+1 {
			return errBadLog
		}
		buf = buf[n:]
		size := int(buf[0])
		buf = buf[1:]
		if len(buf) < size || (size != 0 && size != 4 && size != 16) {
			return errBadLog
		}
		if size > 0 {
			e.peer, _ = netip.AddrFromSlice(buf[:size])
		}
		buf = buf[size:]
		e.proxy, e.at = int64(id), at
		fn(e)
	}
	return nil
}

// replayLog applies the heartbeat log to the proxies just loaded: each
// entry whose batch is after its proxy row's log_seq (seqs, by row id)
// moves the proxy's last_seen, peer and deadline as the heartbeat did. The
// proxies it moved are dirty: their rows lag the state until the next
// checkpoint. It returns how many entries it replayed.
func replayLog(ctx context.Context, tx *sql.Tx, st *state, seqs map[int64]int64) (int, error) {
	byID := map[int64]*proxyRec{}
	owner := map[int64]*tenantState{}
	for _, t := range st.tenants {
		for _, p := range t.proxies {
			byID[p.id], owner[p.id] = p, t
		}
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, beats FROM heartbeat_log ORDER BY id`)
	if err != nil {
		return 0, fmt.Errorf("read the heartbeat log: %w", err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var batch int64
		var beats []byte
		if err := rows.Scan(&batch, &beats); err != nil {
			return n, fmt.Errorf("read the heartbeat log: %w", err)
		}
		st.logRows++
		st.seq.batch = max(st.seq.batch, batch)
		err := decodeEntries(beats, func(e logEntry) {
			p := byID[e.proxy]
			if p == nil || batch <= seqs[e.proxy] {
				return // deleted since, or its row was written after this batch
			}
			p.lastSeen = max(p.lastSeen, e.at)
			p.peer = e.peer
			p.deadline = p.lastSeen + int64(owner[e.proxy].timeout(p))
			st.dirty[p] = struct{}{}
			n++
		})
		if err != nil {
			return n, fmt.Errorf("heartbeat log row %d: %w", batch, err)
		}
	}
	return n, rows.Err()
}

// flushSteady writes the heartbeat log entries of the steady-state
// heartbeats answered before their row (Store.steadyLog) as one log row,
// a transaction of its own. On failure they stay, for the next try. The
// writer lock must be held.
func (s *Store) flushSteady(ctx context.Context) error {
	if len(s.steadyLog) == 0 {
		return nil
	}
	seq := s.st.seq.batch + 1
	if _, err := s.stmt.insertLog.ExecContext(ctx, seq, s.steadyLog); err != nil {
		return err
	}
	s.mu.Lock()
	s.st.seq.batch = seq
	s.st.logRows++
	s.mu.Unlock()
	s.steadyLog = s.steadyLog[:0]
	return nil
}
