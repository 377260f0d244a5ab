package policy

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
)

// HeartbeatInput is what the heartbeat policy decides on.
type HeartbeatInput struct {
	TenantID string // the token's tenant, whose allowlist applies
	TokenID  string // the heartbeat token's id
	Proxy    string // the proxy name being heartbeated
	// TokenCIDRs are the token's own source networks; empty: any.
	TokenCIDRs []netip.Prefix
	// IP is the resolved client IP, IPv4-mapped addresses already folded to
	// IPv4 (clientip does). The zero Addr is refused ("source_ip_missing").
	IP netip.Addr
}

// Decision is the heartbeat policy's answer.
type Decision struct {
	Allow bool
	// Reason says why: "allowed", or for a refusal "source_ip_not_allowed"
	// (outside the tenant's allowlist), "source_ip_not_allowed_for_token"
	// (outside the token's own networks), "source_ip_missing".
	Reason string
}

// Heartbeat decides whether a heartbeat from in.IP is accepted: the tenant's
// allowlist (empty or unknown tenant: any address) and the token's own
// networks (empty: any) must both contain it. Decisions are cached until the
// tenant data changes. An error means the policy could not decide; treat it
// as a refusal.
func (e *Engine) Heartbeat(ctx context.Context, in HeartbeatInput) (Decision, error) {
	d, gen, ok := e.cache.get(e.heartbeatKey(in))
	if ok {
		return d, nil
	}
	d, err := e.evalHeartbeat(ctx, in)
	if err != nil {
		return Decision{}, err
	}
	e.cache.put(e.heartbeatKey(in), d, gen)
	return d, nil
}

// heartbeatKey is the cache key of a heartbeat decision. With the embedded
// policies it holds only what heartbeat.rego reads: the tenant, the token's
// networks and the address — and not even the address when the tenant has
// no allowlist and the token no networks, where the policy accepts every
// valid address. So a fleet of a million proxies needs one cache entry per
// tenant, not one per proxy. An operator's own policies (Options.Dir) may
// read anything, so their keys keep every input.
func (e *Engine) heartbeatKey(in HeartbeatInput) heartbeatKey {
	if !e.builtin {
		return heartbeatKey{tenant: in.TenantID, token: in.TokenID, proxy: in.Proxy, cidrs: prefixesKey(in.TokenCIDRs), ip: in.IP}
	}
	k := heartbeatKey{tenant: in.TenantID, cidrs: prefixesKey(in.TokenCIDRs), ip: in.IP}
	if len(in.TokenCIDRs) == 0 && in.IP.IsValid() && !e.restricted(in.TenantID) {
		k.ip, k.anyIP = netip.Addr{}, true
	}
	return k
}

// evalHeartbeat evaluates the heartbeat policy, bypassing the cache.
func (e *Engine) evalHeartbeat(ctx context.Context, in HeartbeatInput) (Decision, error) {
	rs, err := e.heartbeat.Eval(ctx, rego.EvalParsedInput(heartbeatInput(in)))
	if err != nil {
		return Decision{}, fmt.Errorf("policy: heartbeat: %w", err)
	}
	obj, err := decisionObject(rs)
	if err != nil {
		return Decision{}, fmt.Errorf("policy: heartbeat: %w", err)
	}
	allow, ok1 := obj["allow"].(bool)
	reason, ok2 := obj["reason"].(string)
	if !ok1 || !ok2 {
		return Decision{}, fmt.Errorf("policy: heartbeat: decision %v is not {allow: bool, reason: string}", obj)
	}
	return Decision{Allow: allow, Reason: reason}, nil
}

// heartbeatInput builds the policy input as an AST value (no JSON round trip).
func heartbeatInput(in HeartbeatInput) ast.Value {
	cidrs := make([]*ast.Term, len(in.TokenCIDRs))
	for i, p := range in.TokenCIDRs {
		cidrs[i] = ast.StringTerm(p.String())
	}
	ip := ""
	if in.IP.IsValid() {
		ip = in.IP.WithZone("").String()
	}
	return ast.NewObject(
		[2]*ast.Term{ast.InternedTerm("tenant_id"), ast.StringTerm(in.TenantID)},
		[2]*ast.Term{ast.InternedTerm("token_id"), ast.StringTerm(in.TokenID)},
		[2]*ast.Term{ast.InternedTerm("proxy"), ast.StringTerm(in.Proxy)},
		[2]*ast.Term{ast.InternedTerm("token_cidrs"), ast.ArrayTerm(cidrs...)},
		[2]*ast.Term{ast.InternedTerm("ip"), ast.StringTerm(ip)},
	)
}

// prefixesKey encodes prefixes for the cache key.
func prefixesKey(ps []netip.Prefix) string {
	var buf [4 * 18]byte // room for four prefixes without allocating
	b := buf[:0]
	for _, p := range ps {
		b, _ = p.AppendBinary(b) // never fails
	}
	return string(b)
}

// decisionObject returns the single result of a decision query as an object.
func decisionObject(rs rego.ResultSet) (map[string]any, error) {
	if len(rs) != 1 || len(rs[0].Expressions) != 1 {
		return nil, fmt.Errorf("the policy gave no decision")
	}
	obj, ok := rs[0].Expressions[0].Value.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("decision %v is not an object", rs[0].Expressions[0].Value)
	}
	return obj, nil
}
