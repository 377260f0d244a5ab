package policy

import (
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

// unsafeBuiltins are the built-in functions a policy may not call: network
// access, the OPA runtime's environment, and tracing. They are removed from
// the compiler's capabilities, so a policy calling one fails to compile.
var unsafeBuiltins = map[string]struct{}{
	ast.HTTPSend.Name:        {},
	ast.NetLookupIPAddr.Name: {},
	ast.OPARuntime.Name:      {},
	ast.Trace.Name:           {},
}

// capabilities returns this OPA's capabilities without unsafeBuiltins.
func capabilities() *ast.Capabilities {
	c := ast.CapabilitiesForThisVersion()
	c.Builtins = slices.DeleteFunc(c.Builtins, func(b *ast.Builtin) bool {
		_, unsafe := unsafeBuiltins[b.Name]
		return unsafe
	})
	return c
}

// parseModules parses every *.rego file of fsys (recursively) as Rego v1;
// *_test.rego files only when withTests. Modules are named by their path,
// under dir when it is not empty, so compiler messages point at the file.
func parseModules(fsys fs.FS, dir string, withTests bool) (map[string]*ast.Module, error) {
	modules := map[string]*ast.Module{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || path.Ext(p) != ".rego" {
			return nil
		}
		if !withTests && strings.HasSuffix(p, "_test.rego") {
			return nil
		}
		src, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		name := path.Join("policies", p)
		if dir != "" {
			name = filepath.Join(dir, filepath.FromSlash(p))
		}
		m, err := ast.ParseModuleWithOpts(name, string(src), ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			return err
		}
		modules[name] = m
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	if len(modules) == 0 {
		return nil, fmt.Errorf("policy: no .rego policy files found")
	}
	return modules, nil
}

// compile compiles modules with the restricted capabilities.
func compile(modules map[string]*ast.Module) (*ast.Compiler, error) {
	c := ast.NewCompiler().
		WithCapabilities(capabilities()).
		WithDefaultRegoVersion(ast.RegoV1)
	if c.Compile(modules); c.Failed() {
		return nil, fmt.Errorf("policy: %w", c.Errors)
	}
	return c, nil
}
