package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/proxyhub/proxyhub/internal/hub"
)

// RecordHeartbeat implements hub.ProxyStore.
func (s *Store) RecordHeartbeat(ctx context.Context, hb hub.Heartbeat) (hub.HeartbeatResult, error) {
	t, err := s.tenant(ctx, hb.TenantID)
	if err != nil {
		return hub.HeartbeatResult{}, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	var tok *hub.Token
	if hb.TokenID != "" {
		tok = t.tokenByID[hb.TokenID]
		if tok == nil || !tok.LiveAt(hb.At) {
			return hub.HeartbeatResult{}, fmt.Errorf("token %q: %w", hb.TokenID, hub.ErrTokenRevoked)
		}
	}
	p, ok := t.proxies[hb.Name]
	res := hub.HeartbeatResult{}
	switch {
	case !ok && !hb.MayCreate:
		return res, fmt.Errorf("proxy %q: %w", hb.Name, hub.ErrNotRegistered)
	case !ok && hb.MaxProxies > 0 && len(t.proxies) >= hb.MaxProxies:
		return res, fmt.Errorf("proxy %q: %w", hb.Name, hub.ErrQuotaExceeded)
	case !ok:
		at := hb.At.UnixNano()
		p = &proxyRec{name: hb.Name, ip: hb.IP, peer: hb.PeerIP, created: at, lastSeen: at}
		t.proxies[hb.Name] = p
		res.Created = true
		s.appendEvent(t, hub.Event{Type: hub.EventRegistered, Proxy: hb.Name, At: hb.At, NewIP: hb.IP})
	case p.ip != hb.IP:
		res.Changed, res.PreviousIP, res.ChangeID = true, p.ip, s.nextID.Add(1)
		p.ipChanges++
		t.changes.add(hub.IPChange{
			ID:        res.ChangeID,
			TenantID:  hb.TenantID,
			Proxy:     hb.Name,
			OldIP:     p.ip,
			NewIP:     hb.IP,
			At:        hb.At,
			TokenID:   hb.TokenID,
			RequestID: hb.RequestID,
		})
		s.appendEvent(t, hub.Event{Type: hub.EventIPChanged, Proxy: hb.Name, At: hb.At, OldIP: p.ip, NewIP: hb.IP})
	}
	p.ip, p.peer = hb.IP, hb.PeerIP
	if at := hb.At.UnixNano(); at > p.lastSeen {
		p.lastSeen = at
	}
	if p.offline() {
		p.set(flagOffline, false)
		res.CameOnline = true
		s.appendEvent(t, hub.Event{Type: hub.EventOnline, Proxy: hb.Name, At: hb.At, NewIP: hb.IP})
	}
	s.setDeadline(t, p, p.lastSeen+int64(t.timeout(p)))
	if tok != nil && hb.At.After(tok.LastUsedAt) {
		tok.LastUsedAt = hb.At
	}
	res.Proxy = p.view(hb.TenantID)
	return res, nil
}

// ListProxies implements hub.ProxyStore.
func (s *Store) ListProxies(ctx context.Context, tenantID string, q hub.ProxyQuery) ([]hub.Proxy, error) {
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	t.mu.RLock()
	out := make([]hub.Proxy, 0, len(t.proxies))
	for name, p := range t.proxies {
		if !strings.HasPrefix(name, q.NamePrefix) || (q.After != "" && name <= q.After) {
			continue
		}
		if !q.DeadlineBefore.IsZero() && p.deadline >= q.DeadlineBefore.UnixNano() {
			continue
		}
		if !q.DeadlineFrom.IsZero() && p.deadline < q.DeadlineFrom.UnixNano() {
			continue
		}
		out = append(out, p.view(tenantID))
	}
	t.mu.RUnlock()
	slices.SortFunc(out, func(a, b hub.Proxy) int { return cmp.Compare(a.Name, b.Name) })
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, nil
}

// GetProxy implements hub.ProxyStore.
func (s *Store) GetProxy(ctx context.Context, tenantID, name string) (hub.Proxy, error) {
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return hub.Proxy{}, err
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	p, ok := t.proxies[name]
	if !ok {
		return hub.Proxy{}, fmt.Errorf("proxy %q: %w", name, hub.ErrNotFound)
	}
	return p.view(tenantID), nil
}

// DeleteProxy implements hub.ProxyStore. Its heap entry, if any, is
// marked stale and dropped when it comes due.
func (s *Store) DeleteProxy(ctx context.Context, tenantID, name string) error {
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	p, ok := t.proxies[name]
	if !ok {
		return fmt.Errorf("proxy %q: %w", name, hub.ErrNotFound)
	}
	p.set(flagDeleted, true)
	delete(t.proxies, name)
	return nil
}
