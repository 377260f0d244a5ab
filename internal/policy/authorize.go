package policy

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/proxyhub/proxyhub/internal/auth"
	"github.com/proxyhub/proxyhub/internal/clientip"
)

// Authorize implements Authorizer with the admin policy
// (data.proxyhub.admin.decision): nil when p may perform a on r; an error
// wrapping ErrHidden when r belongs to another tenant; an error
// wrapping ErrForbidden for any other refusal, including an admin of a
// tenant with an admin allowlist calling from outside it (the client IP is
// clientip.FromContext(ctx); when it is unknown the call is outside). Any
// other error is a failure to decide, which callers treat as a refusal.
//
// Decisions, allows and refusals alike, are cached until the tenant data
// changes; a cached refusal is rebuilt as the same error (same sentinel,
// same message). Failures to decide are not cached.
func (e *Engine) Authorize(ctx context.Context, p auth.Principal, a Action, r Resource) error {
	if a == AdminAllowlistUpdate {
		// Rare, and decided on a list the cache key does not hold.
		o, err := e.evalAuthorize(ctx, p, a, r)
		if err != nil {
			return err
		}
		return o.err()
	}
	key := e.authzKey(ctx, p, a, r)
	o, gen, ok := e.authzCache.get(key)
	if ok {
		return o.err()
	}
	o, err := e.evalAuthorize(ctx, p, a, r)
	if err != nil {
		return err
	}
	e.authzCache.put(key, o, gen)
	return o.err()
}

// authzKey is the cache key of Authorize(ctx, p, a, r).
func (e *Engine) authzKey(ctx context.Context, p auth.Principal, a Action, r Resource) authorizeKey {
	k := authorizeKey{
		kind: p.Kind, tenant: p.TenantID, role: p.Role, proxy: p.Proxy,
		action: a, resTenant: r.TenantID, grantRole: r.GrantRole, resProxy: r.Proxy,
		ip: clientIP(ctx),
	}
	if e.keyPrincipalID {
		k.id = p.ID
	}
	// With the embedded policies, a heartbeat token's decision depends on
	// neither the client IP (the admin allowlist binds admin JWTs only) nor,
	// for an unbound token, the proxy: dropping them lets every heartbeat of
	// a token share one entry instead of one per proxy and address.
	if e.builtin && p.Kind == auth.KindHeartbeat {
		k.ip = netip.Addr{}
		if p.Proxy == "" {
			k.resProxy = ""
		}
	}
	return k
}

// outcome kinds of an authorization decision.
const (
	outcomeAllowed uint8 = iota
	outcomeForbidden
	outcomeHidden
)

// authzOutcome is an authorization decision as cached: its kind and, for a
// refusal, the policy's reason.
type authzOutcome struct {
	kind   uint8
	reason string
}

// err is the error Authorize returns for o: nil for an allow, else the
// sentinel wrapped with the reason.
func (o authzOutcome) err() error {
	switch o.kind {
	case outcomeHidden:
		return fmt.Errorf("%w: %s", ErrHidden, o.reason)
	case outcomeForbidden:
		return fmt.Errorf("%w: %s", ErrForbidden, o.reason)
	}
	return nil
}

// evalAuthorize evaluates the admin policy, bypassing the cache. The error
// is a failure to decide; a refusal is an outcome.
func (e *Engine) evalAuthorize(ctx context.Context, p auth.Principal, a Action, r Resource) (authzOutcome, error) {
	rs, err := e.admin.Eval(ctx, rego.EvalParsedInput(adminInput(ctx, p, a, r)))
	if err != nil {
		return authzOutcome{}, fmt.Errorf("policy: authorize %s: %w", a, err)
	}
	obj, err := decisionObject(rs)
	if err != nil {
		return authzOutcome{}, fmt.Errorf("policy: authorize %s: %w", a, err)
	}
	allow, ok1 := obj["allow"].(bool)
	hide, ok2 := obj["hidden"].(bool)
	reason, ok3 := obj["reason"].(string)
	switch {
	case !ok1 || !ok2 || !ok3:
		return authzOutcome{}, fmt.Errorf("policy: authorize %s: decision %v is not {allow: bool, hidden: bool, reason: string}", a, obj)
	case hide:
		return authzOutcome{kind: outcomeHidden, reason: reason}, nil
	case !allow:
		return authzOutcome{kind: outcomeForbidden, reason: reason}, nil
	}
	return authzOutcome{kind: outcomeAllowed}, nil
}

// clientIP is the request's resolved client IP as the admin policy sees it:
// without its zone, the zero Addr when unknown (resolution failed or never
// happened).
func clientIP(ctx context.Context) netip.Addr {
	if res, err := clientip.FromContext(ctx); err == nil && res.Client.IsValid() {
		return res.Client.WithZone("")
	}
	return netip.Addr{}
}

// adminInput builds the admin policy's input as an AST value. client_ip is
// left out when the request's client IP is unknown.
func adminInput(ctx context.Context, p auth.Principal, a Action, r Resource) ast.Value {
	principal := ast.NewObject(
		[2]*ast.Term{ast.InternedTerm("kind"), ast.StringTerm(string(p.Kind))},
		[2]*ast.Term{ast.InternedTerm("id"), ast.StringTerm(p.ID)},
		[2]*ast.Term{ast.InternedTerm("tenant"), ast.StringTerm(p.TenantID)},
		[2]*ast.Term{ast.InternedTerm("role"), ast.StringTerm(string(p.Role))},
		[2]*ast.Term{ast.InternedTerm("proxy"), ast.StringTerm(p.Proxy)},
	)
	resource := ast.NewObject(
		[2]*ast.Term{ast.InternedTerm("tenant"), ast.StringTerm(r.TenantID)},
		[2]*ast.Term{ast.InternedTerm("grant_role"), ast.StringTerm(string(r.GrantRole))},
		[2]*ast.Term{ast.InternedTerm("proxy"), ast.StringTerm(r.Proxy)},
	)
	if a == AdminAllowlistUpdate {
		cidrs := make([]*ast.Term, len(r.AdminAllowlist))
		for i, c := range r.AdminAllowlist {
			cidrs[i] = ast.StringTerm(c)
		}
		resource.Insert(ast.InternedTerm("admin_allowlist"), ast.ArrayTerm(cidrs...))
		resource.Insert(ast.InternedTerm("force"), ast.BooleanTerm(r.Force))
	}
	in := ast.NewObject(
		[2]*ast.Term{ast.InternedTerm("principal"), ast.NewTerm(principal)},
		[2]*ast.Term{ast.InternedTerm("action"), ast.StringTerm(string(a))},
		[2]*ast.Term{ast.InternedTerm("resource"), ast.NewTerm(resource)},
	)
	if ip := clientIP(ctx); ip.IsValid() {
		in.Insert(ast.InternedTerm("client_ip"), ast.StringTerm(ip.String()))
	}
	return in
}
