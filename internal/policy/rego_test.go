package policy

import (
	"context"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"

	"github.com/proxyhub/proxyhub/policies"
)

// minRegoTests is a floor on the number of Rego tests in policies/, so a
// test file that stops loading (or loses its tests) fails here.
const minRegoTests = 60

// TestRegoPolicies runs the _test.rego files of the embedded policies with
// OPA's tester (what `opa test policies/` does), compiled with the same
// restricted capabilities as the engine.
func TestRegoPolicies(t *testing.T) {
	modules, err := parseModules(policies.FS, "", true)
	if err != nil {
		t.Fatal(err)
	}
	compiler := ast.NewCompiler().WithCapabilities(capabilities()).WithDefaultRegoVersion(ast.RegoV1)
	ch, err := tester.NewRunner().
		SetCompiler(compiler).
		SetStore(inmem.New()).
		SetDefaultRegoVersion(ast.RegoV1).
		Run(context.Background(), modules)
	if err != nil {
		t.Fatalf("running the Rego tests: %v", err)
	}
	ran := map[string]int{}
	for r := range ch {
		name := r.Package + "." + r.Name
		switch {
		case r.Error != nil:
			t.Errorf("%s (%s): error: %v", name, r.Location, r.Error)
		case r.Skip:
			t.Errorf("%s (%s): skipped", name, r.Location)
		case r.Fail:
			t.Errorf("%s (%s): FAIL", name, r.Location)
		}
		ran[r.Package]++
	}
	total := 0
	for pkg, n := range ran {
		t.Logf("%s: %d tests", pkg, n)
		total += n
	}
	if total < minRegoTests {
		t.Errorf("%d Rego tests ran, want at least %d", total, minRegoTests)
	}
	for _, pkg := range []string{"data.proxyhub.heartbeat_test", "data.proxyhub.admin_test"} {
		if ran[pkg] == 0 {
			t.Errorf("no tests ran in %s", pkg)
		}
	}
}
