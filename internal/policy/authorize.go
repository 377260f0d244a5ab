package policy

import (
	"context"
	"fmt"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/proxyhub/proxyhub/internal/auth"
	"github.com/proxyhub/proxyhub/internal/authz"
	"github.com/proxyhub/proxyhub/internal/clientip"
)

// Authorize implements authz.Authorizer with the admin policy
// (data.proxyhub.admin.decision): nil when p may perform a on r; an error
// wrapping authz.ErrHidden when r belongs to another tenant; an error
// wrapping authz.ErrForbidden for any other refusal, including an admin of a
// tenant with an admin allowlist calling from outside it (the client IP is
// clientip.FromContext(ctx); when it is unknown the call is outside). Any
// other error is a failure to decide, which callers treat as a refusal.
func (e *Engine) Authorize(ctx context.Context, p auth.Principal, a authz.Action, r authz.Resource) error {
	rs, err := e.admin.Eval(ctx, rego.EvalParsedInput(adminInput(ctx, p, a, r)))
	if err != nil {
		return fmt.Errorf("policy: authorize %s: %w", a, err)
	}
	obj, err := decisionObject(rs)
	if err != nil {
		return fmt.Errorf("policy: authorize %s: %w", a, err)
	}
	allow, ok1 := obj["allow"].(bool)
	hidden, ok2 := obj["hidden"].(bool)
	reason, ok3 := obj["reason"].(string)
	switch {
	case !ok1 || !ok2 || !ok3:
		return fmt.Errorf("policy: authorize %s: decision %v is not {allow: bool, hidden: bool, reason: string}", a, obj)
	case hidden:
		return fmt.Errorf("%w: %s", authz.ErrHidden, reason)
	case !allow:
		return fmt.Errorf("%w: %s", authz.ErrForbidden, reason)
	}
	return nil
}

// adminInput builds the admin policy's input as an AST value. client_ip is
// left out when the request's client IP is unknown.
func adminInput(ctx context.Context, p auth.Principal, a authz.Action, r authz.Resource) ast.Value {
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
	in := ast.NewObject(
		[2]*ast.Term{ast.InternedTerm("principal"), ast.NewTerm(principal)},
		[2]*ast.Term{ast.InternedTerm("action"), ast.StringTerm(string(a))},
		[2]*ast.Term{ast.InternedTerm("resource"), ast.NewTerm(resource)},
	)
	if res, err := clientip.FromContext(ctx); err == nil && res.Client.IsValid() {
		in.Insert(ast.InternedTerm("client_ip"), ast.StringTerm(res.Client.WithZone("").String()))
	}
	return in
}
