package policy

import (
	"maps"
	"slices"

	"github.com/open-policy-agent/opa/v1/ast"
)

// readsPrincipalID reports whether the policies may read input.principal.id,
// so the authorization cache key must hold the principal's id. It looks at
// every module's source (the operator's own policies included) and answers
// true, to be safe, for anything it cannot rule out: input.principal.id
// itself, input or input.principal used whole (assigned, passed to a
// function, iterated, imported), or indexed by a variable. The one whole use
// it accepts is object.get(input.principal, "<constant other than id>", d),
// which is how admin.rego reads the optional role and proxy.
func readsPrincipalID(modules map[string]*ast.Module) bool {
	found := false
	var vis *ast.GenericVisitor
	walkTerms := func(ts []*ast.Term) {
		for _, t := range ts {
			vis.Walk(t)
		}
	}
	// call handles a call of op on args; it reports whether it walked the
	// arguments itself.
	call := func(op *ast.Term, args []*ast.Term) bool {
		ref, ok := op.Value.(ast.Ref)
		if !ok || ref.String() != "object.get" || len(args) < 2 || !isInputPrincipal(args[0]) {
			return false
		}
		if key, ok := args[1].Value.(ast.String); !ok || key == "id" {
			found = true
			return true
		}
		walkTerms(args[2:])
		return true
	}
	vis = ast.NewGenericVisitor(func(x any) bool {
		if found {
			return true
		}
		switch x := x.(type) {
		case ast.Var:
			// input not at the head of a reference: the whole document.
			if x.Equal(ast.InputRootDocument.Value) {
				found = true
			}
		case ast.Ref:
			if len(x) > 0 && x[0].Value.Compare(ast.InputRootDocument.Value) == 0 && refMayReadPrincipalID(x) {
				found = true
				return true
			}
			walkTerms(x[1:]) // not the head: only input as a value matters
			return true
		case ast.Call:
			if len(x) > 0 {
				return call(x[0], x[1:])
			}
		case *ast.Expr:
			if ts, ok := x.Terms.([]*ast.Term); ok && len(ts) > 0 && call(ts[0], ts[1:]) {
				for _, w := range x.With {
					vis.Walk(w)
				}
				return true
			}
		case *ast.Head:
			// Rule heads such as p[input.principal.id].q := 1 keep some
			// of their terms only in Reference, which the visitor skips.
			if len(x.Reference) > 1 {
				walkTerms(x.Reference[1:])
			}
		}
		return false
	})
	for _, m := range modules {
		vis.Walk(m)
	}
	return found
}

// refMayReadPrincipalID reports whether ref, which starts at input, may
// reach input.principal.id.
func refMayReadPrincipalID(ref ast.Ref) bool {
	if len(ref) < 2 {
		return true // input itself
	}
	first, ok := ref[1].Value.(ast.String)
	if !ok {
		return true // input[x]
	}
	if first != "principal" {
		return false
	}
	if len(ref) < 3 {
		return true // input.principal itself
	}
	second, ok := ref[2].Value.(ast.String)
	return !ok || second == "id"
}

// isInputPrincipal reports whether t is exactly input.principal.
func isInputPrincipal(t *ast.Term) bool {
	ref, ok := t.Value.(ast.Ref)
	return ok && len(ref) == 2 &&
		ref[0].Value.Compare(ast.InputRootDocument.Value) == 0 &&
		ref[1].Value.Compare(ast.String("principal")) == 0
}

// nondeterministicCalls lists the non-deterministic built-ins (time.now_ns,
// rand.intn, uuid.rfc4122, ...) the policies call. A decision that depends on
// one cannot be cached under any key.
func nondeterministicCalls(modules map[string]*ast.Module) []string {
	seen := map[string]bool{}
	check := func(op *ast.Term) {
		if ref, ok := op.Value.(ast.Ref); ok {
			name := ref.String()
			if b, ok := ast.BuiltinMap[name]; ok && b.Nondeterministic {
				seen[name] = true
			}
		}
	}
	vis := ast.NewGenericVisitor(func(x any) bool {
		switch x := x.(type) {
		case ast.Call:
			if len(x) > 0 {
				check(x[0])
			}
		case *ast.Expr:
			if ts, ok := x.Terms.([]*ast.Term); ok && len(ts) > 0 {
				check(ts[0])
			}
		}
		return false
	})
	for _, m := range modules {
		vis.Walk(m)
	}
	return slices.Sorted(maps.Keys(seen))
}
