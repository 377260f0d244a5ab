package httpapi

import (
	"net/netip"
	"reflect"
	"time"

	"github.com/proxyhub/proxyhub/api"
	"github.com/proxyhub/proxyhub/internal/hub"
)

// Conversions from domain records to the public api types.

func proxyStatus(p hub.ProxyView) api.ProxySummary {
	return api.ProxySummary{
		Name:      p.Name,
		RemoteIP:  p.IP.String(),
		Status:    api.Liveness(p.Status),
		LastSeen:  api.NewTime(p.LastSeen),
		CreatedAt: api.NewTime(p.CreatedAt),
		IPChanges: p.IPChanges,
	}
}

func proxyOut(p hub.ProxyView) api.Proxy {
	return api.Proxy{ProxySummary: proxyStatus(p), PeerIP: p.PeerIP.String(), Paused: p.Paused,
		OfflineAfter: int(p.Timeout / time.Second), Deadline: api.NewTime(p.Deadline)}
}

func eventOut(e hub.Event) api.Event {
	out := api.Event{ID: e.ID, Type: api.EventType(e.Type), Proxy: e.Proxy, At: api.NewTime(e.At)}
	if e.OldIP.IsValid() {
		out.OldIP = e.OldIP.String()
	}
	if e.NewIP.IsValid() {
		out.NewIP = e.NewIP.String()
	}
	return out
}

func tenantOut(t hub.Tenant) api.Tenant {
	return api.Tenant{
		ID:           t.ID,
		Name:         t.Name,
		OfflineAfter: int(t.OfflineAfter / time.Second),
		MaxProxies:   t.MaxProxies,
		AutoRegister: t.AutoRegister,
		CreatedAt:    api.NewTime(t.CreatedAt),
		UpdatedAt:    api.NewTime(t.UpdatedAt),
	}
}

func tokenOut(t hub.Token) api.Token {
	return api.Token{
		ID:           t.ID,
		Label:        t.Label,
		Proxy:        t.Proxy,
		AllowedCIDRs: prefixStrings(t.AllowedCIDRs),
		ExpiresAt:    optTime(t.ExpiresAt),
		CreatedAt:    api.NewTime(t.CreatedAt),
		LastUsedAt:   optTime(t.LastUsedAt),
		RevokedAt:    optTime(t.RevokedAt),
	}
}

func credentialOut(c hub.Credential) api.Credential {
	return api.Credential{
		ClientID:   c.ID,
		Role:       api.Role(c.Role),
		Label:      c.Label,
		CreatedAt:  api.NewTime(c.CreatedAt),
		LastUsedAt: optTime(c.LastUsedAt),
		RevokedAt:  optTime(c.RevokedAt),
	}
}

// optTime is nil for the zero time, so absent times are omitted.
func optTime(t time.Time) *api.Time {
	if t.IsZero() {
		return nil
	}
	v := api.NewTime(t)
	return &v
}

func prefixStrings(ps []netip.Prefix) []string {
	if len(ps) == 0 {
		return nil
	}
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

// reflectType returns the reflect.Type of T.
func reflectType[T any]() reflect.Type { return reflect.TypeFor[T]() }
