// Package policy is proxyhub's one authorization package: the actions of
// the API and the Authorizer interface (authorizer.go), and the embedded
// OPA that answers them from the Rego policies in policies/ — the admin
// API's authorization (data.proxyhub.admin.decision) and the source-IP
// decision of heartbeats (data.proxyhub.heartbeat.decision). It loads the
// policies, feeds them tenant data and asks them, all here.
//
// The policies are compiled and their queries prepared once, in New; an
// Engine is then safe for concurrent use. Tenant settings the policies need
// (allowlists) live in OPA's in-memory store under data.tenants and are
// changed by transactions (SetTenant, LoadTenants) without
// re-preparing anything.
//
// Both decisions are cached, in bounded maps keyed by every input the policies
// may read, until the next change of tenant data.
package policy

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"

	"github.com/proxyhub/proxyhub/policies"
)

// The queries the policies must answer.
const (
	adminQuery     = "data.proxyhub.admin.decision"
	heartbeatQuery = "data.proxyhub.heartbeat.decision"
)

// Options configures New.
type Options struct {
	// Dir, when not empty, is a directory whose *.rego files (searched
	// recursively, *_test.rego skipped) replace the embedded policies: an
	// operator's own copy (PROXYHUB_POLICY_DIR).
	Dir string
	// Logger receives the engine's messages; nil discards them.
	Logger *slog.Logger
}

// Engine is the compiled policy set with its tenant data. It implements
// Authorizer. Its methods are safe for concurrent use.
type Engine struct {
	log       *slog.Logger
	store     storage.Store
	admin     rego.PreparedEvalQuery
	heartbeat rego.PreparedEvalQuery
	// The decision caches, both cleared by every data write; nil (caching
	// nothing) when the policies are not deterministic.
	cache      *decisionCache[heartbeatKey, Decision]
	authzCache *decisionCache[authorizeKey, authzOutcome]
	// keyPrincipalID is whether the policies may read input.principal.id,
	// which then belongs in the authorization cache key.
	keyPrincipalID bool
	// builtin is whether the embedded policies are in use (no Options.Dir):
	// the decision caches then key on what those policies read only.
	builtin bool
	// restrictedTenants holds the ids of tenants with a heartbeat
	// allowlist (heartbeatKey); guarded by restrictedMu.
	restrictedMu      sync.RWMutex
	restrictedTenants map[string]bool

	// prepares counts PrepareForEval calls, so tests can see that data
	// updates never re-prepare.
	prepares atomic.Int64
	// synced is the tenant data of the last Load or Resync reload (only
	// they touch it).
	synced []map[string]any
}

var _ Authorizer = (*Engine)(nil)

// New compiles the policies (the embedded ones, or those of opts.Dir) and
// prepares their queries. A policy that does not parse or compile — including
// one calling a disabled built-in such as http.send — makes New fail with an
// error quoting the compiler's messages, each with its file and line. The
// engine starts with no tenant data: every tenant is unknown until SetTenant
// or LoadTenants, and an unknown tenant has no allowlist.
func New(ctx context.Context, opts Options) (*Engine, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}

	var fsys fs.FS = policies.FS
	source := "embedded"
	if opts.Dir != "" {
		info, err := os.Stat(opts.Dir)
		if err != nil {
			return nil, fmt.Errorf("policy: policy directory: %w", err)
		}
		if !info.IsDir() {
			return nil, fmt.Errorf("policy: policy directory %s is not a directory", opts.Dir)
		}
		fsys, source = os.DirFS(opts.Dir), opts.Dir
	}
	modules, err := parseModules(fsys, opts.Dir, false)
	if err != nil {
		return nil, err
	}
	compiler, err := compile(modules)
	if err != nil {
		return nil, err
	}
	for _, q := range []string{adminQuery, heartbeatQuery} {
		if len(compiler.GetRules(ast.MustParseRef(q))) == 0 {
			return nil, fmt.Errorf("policy: the policies (%s) define no %s", source, q)
		}
	}

	store := inmem.NewFromObjectWithOpts(map[string]any{"tenants": map[string]any{}},
		inmem.OptRoundTripOnWrite(false), inmem.OptReturnASTValuesOnRead(true))
	e := &Engine{log: log, store: store, keyPrincipalID: readsPrincipalID(modules), builtin: opts.Dir == "", restrictedTenants: map[string]bool{}}
	if nd := nondeterministicCalls(modules); len(nd) > 0 {
		log.Warn("policies call non-deterministic built-ins: decisions are not cached", "builtins", nd)
	} else {
		e.cache = newDecisionCache[heartbeatKey, Decision](cacheSize)
		e.authzCache = newDecisionCache[authorizeKey, authzOutcome](cacheSize)
	}
	if e.admin, err = e.prepare(ctx, compiler, adminQuery); err != nil {
		return nil, err
	}
	if e.heartbeat, err = e.prepare(ctx, compiler, heartbeatQuery); err != nil {
		return nil, err
	}
	log.Info("policies loaded", "source", source, "modules", len(modules),
		"cached", e.cache != nil, "cache_key_principal_id", e.keyPrincipalID)
	return e, nil
}

// prepare prepares query q against the compiled policies and the store.
func (e *Engine) prepare(ctx context.Context, c *ast.Compiler, q string) (rego.PreparedEvalQuery, error) {
	e.prepares.Add(1)
	pq, err := rego.New(
		rego.Query(q),
		rego.Compiler(c),
		rego.Store(e.store),
		rego.Capabilities(c.Capabilities()),
		rego.UnsafeBuiltins(unsafeBuiltins),
		rego.SetRegoVersion(ast.RegoV1),
	).PrepareForEval(ctx)
	if err != nil {
		return rego.PreparedEvalQuery{}, fmt.Errorf("policy: prepare %s: %w", q, err)
	}
	return pq, nil
}
