package sqlite

import (
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
)

// The steady-state fast path. With Options.LogFlush on, a heartbeat that
// changes nothing but its proxy's time and peer is decided and applied by
// its caller when the writer is not busy (Store.wmu is free: the caller
// then holds it, so it is alone with the state as the writer would be),
// without a trip through the queue; its log entry joins Store.steadyLog,
// which the writer writes within LogFlush. Anything else, or a busy
// writer, goes through the queue.

// beatSteady applies hb to the state if it is a steady-state heartbeat
// that needs nothing written but its log entry, and reports whether it
// did. The writer lock must be held.
func (s *Store) beatSteady(hb *hub.Heartbeat) (hub.HeartbeatResult, bool) {
	if s.opts.LogFlush <= 0 || len(s.steadyLog) >= maxSteadyLog {
		return hub.HeartbeatResult{}, false
	}
	st := s.st
	t := st.tenants[hb.TenantID]
	if t == nil {
		return hub.HeartbeatResult{}, false
	}
	if hb.TokenID != "" {
		tok := t.tokenByID[hb.TokenID]
		if tok == nil || !tok.LiveAt(hb.At) || !tokenUseRecorded(tok, hb.At) {
			return hub.HeartbeatResult{}, false
		}
	}
	p := t.proxies[hb.Name]
	if p == nil || p.ip != hb.IP || p.offline {
		return hub.HeartbeatResult{}, false
	}
	s.mu.Lock()
	moveSteady(p, t, hb)
	st.dirty[p] = struct{}{}
	st.queue(t, p)
	s.mu.Unlock()
	if len(s.steadyLog) == 0 {
		s.steadySince = time.Now()
		select {
		case s.kick <- struct{}{}: // the writer arms its flush timer
		default:
		}
	}
	s.steadyLog = appendEntry(s.steadyLog, logEntry{proxy: p.id, at: hb.At.UnixNano(), peer: hb.PeerIP})
	return hub.HeartbeatResult{Proxy: p.view(hb.TenantID)}, true
}

// moveSteady moves p as a steady-state heartbeat does: its peer, its last
// seen time (never back) and its deadline.
func moveSteady(p *proxyRec, t *tenantState, hb *hub.Heartbeat) {
	p.ip, p.peer = hb.IP, hb.PeerIP
	p.lastSeen = max(p.lastSeen, hb.At.UnixNano())
	p.deadline = p.lastSeen + int64(t.timeout(p))
}

// tokenUseRecorded reports whether tok's last use as stored is recent
// enough that a use at at need not move it (hub.TokenTouchInterval).
func tokenUseRecorded(tok *hub.Token, at time.Time) bool {
	return !tok.LastUsedAt.IsZero() && at.Sub(tok.LastUsedAt) < hub.TokenTouchInterval
}
