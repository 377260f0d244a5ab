package httpapi_test

import (
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"log/slog"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/store/memory"
)

// recordLog is a slog.Handler that keeps every record with its attributes
// as they were typed (the JSON handler writes a duration as a bare number).
type recordLog struct {
	mu      *sync.Mutex
	records *[]loggedRecord
	attrs   []slog.Attr
	group   string
}

type loggedRecord struct {
	msg   string
	attrs []slog.Attr
}

func newRecordLog() *recordLog {
	return &recordLog{mu: new(sync.Mutex), records: new([]loggedRecord)}
}

func (h *recordLog) Enabled(context.Context, slog.Level) bool { return true }

func (h *recordLog) Handle(_ context.Context, r slog.Record) error {
	attrs := append([]slog.Attr(nil), h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		attrs = append(attrs, h.qualify(a))
		return true
	})
	h.mu.Lock()
	*h.records = append(*h.records, loggedRecord{r.Message, attrs})
	h.mu.Unlock()
	return nil
}

func (h *recordLog) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append([]slog.Attr(nil), h.attrs...)
	for _, a := range as {
		c.attrs = append(c.attrs, h.qualify(a))
	}
	return &c
}

func (h *recordLog) WithGroup(name string) slog.Handler {
	c := *h
	c.group = h.group + name + "."
	return &c
}

func (h *recordLog) qualify(a slog.Attr) slog.Attr {
	a.Key = h.group + a.Key
	a.Value = a.Value.Resolve()
	return a
}

func (h *recordLog) all() []loggedRecord {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]loggedRecord(nil), *h.records...)
}

// logKeyViolation says what is wrong with one attribute, or "".
func logKeyViolation(a slog.Attr) string {
	v := a.Value
	switch {
	case a.Key == "err":
		return `an error under "err": the key is "error"`
	case v.Kind() == slog.KindDuration:
		return "a duration attribute: log milliseconds under a _ms key"
	case v.Kind() == slog.KindAny && isError(v.Any()) && a.Key != "error":
		return `an error under a key other than "error"`
	case strings.HasSuffix(a.Key, "_ms") &&
		v.Kind() != slog.KindInt64 && v.Kind() != slog.KindUint64 && v.Kind() != slog.KindFloat64:
		return "a _ms attribute that is not a number"
	}
	return ""
}

func isError(v any) bool { _, ok := v.(error); return ok }

// fakePruner prunes one record each time.
type fakePruner struct{}

func (fakePruner) PruneHistory(context.Context, time.Time, int) (int64, error) { return 1, nil }
func (fakePruner) Leader(context.Context, string) (bool, error)                { return true, nil }

// Every log attribute that carries an error is called "error"; every
// duration is a number of milliseconds under a key ending in _ms.
func TestLogKeys_ErrorsAndMilliseconds(t *testing.T) {
	cases := []struct {
		name    string
		store   hub.Store
		emit    func(t *testing.T, th *testHub, tok string, log *slog.Logger)
		msg     string
		wantKey string
	}{
		{"access log", nil, func(t *testing.T, th *testHub, tok string, _ *slog.Logger) {
			th.heartbeat(tok, "edge-1", "203.0.113.7:1", http.StatusOK)
		}, "request", "duration_ms"},
		{"sweep", nil, func(t *testing.T, th *testHub, tok string, log *slog.Logger) {
			th.heartbeat(tok, "edge-1", "203.0.113.7:1", http.StatusOK)
			th.clock.Advance(time.Hour)
			if evs, err := hub.NewSweeper(th.live, th.clock.Now, log, nil).SweepOnce(context.Background()); err != nil || len(evs) != 1 {
				t.Fatalf("sweep: %v, %v", evs, err)
			}
		}, "proxies_offline", "sweep_ms"},
		{"history prune", nil, func(t *testing.T, th *testHub, _ string, log *slog.Logger) {
			if _, err := hub.NewHistoryPruner(fakePruner{}, hub.MinRetention, th.clock.Now, log).PruneOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
		}, "history_pruned", "retention_ms"},
		{"internal error", failingStore{memory.New()}, func(t *testing.T, th *testHub, tok string, _ *slog.Logger) {
			assertProblem(t, th.do(request{target: "/status", bearer: tok}), http.StatusInternalServerError)
		}, "internal error", "error"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecordLog()
			log := slog.New(rec)
			opts := []hubOption{withLogger(log)}
			if tc.store != nil {
				opts = append(opts, withStore(tc.store))
			}
			th, tok := newAcme(t, opts...)
			tc.emit(t, th, tok, log)
			found := false
			for _, r := range rec.all() {
				for _, a := range r.attrs {
					if why := logKeyViolation(a); why != "" {
						t.Errorf("%q: %s=%v is %s", r.msg, a.Key, a.Value, why)
					}
					if r.msg == tc.msg && a.Key == tc.wantKey {
						found = true
					}
				}
			}
			if !found {
				t.Errorf("no %q line with %s", tc.msg, tc.wantKey)
			}
		})
	}
}

// The same rules, read off the source: the places no handler test reaches
// (the PostgreSQL store, the serve command) keep them too.
func TestLogKeys_SourceHasNoErrKeysOrDurationAttrs(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	logCalls := map[string]bool{}
	for _, l := range []string{"Debug", "Info", "Warn", "Error", "Log", "LogAttrs"} {
		logCalls[l], logCalls[l+"Context"] = true, true
	}
	attrCalls := map[string]bool{"Any": true, "String": true, "Int": true, "Int64": true, "Float64": true, "Bool": true, "Time": true, "Duration": true, "Group": true}
	var found []string
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "vendor") && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			pkg, _ := sel.X.(*ast.Ident)
			isSlog := pkg != nil && pkg.Name == "slog"
			where := func(why string) {
				rel, _ := filepath.Rel(root, fset.Position(call.Pos()).Filename)
				found = append(found, fmt.Sprintf("%s:%d: %s", rel, fset.Position(call.Pos()).Line, why))
			}
			switch {
			case isSlog && sel.Sel.Name == "Duration":
				where("slog.Duration: log milliseconds under a _ms key")
			case isSlog && attrCalls[sel.Sel.Name] && len(call.Args) > 0 && isLiteral(call.Args[0], "err"):
				where(`an attribute "err": the key is "error"`)
			case logCalls[sel.Sel.Name]:
				for _, a := range call.Args {
					if isLiteral(a, "err") {
						where(`a key "err": the key is "error"`)
					}
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) > 0 {
		t.Errorf("log keys:\n%s", strings.Join(found, "\n"))
	}
}

func isLiteral(e ast.Expr, s string) bool {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return false
	}
	v, err := strconv.Unquote(lit.Value)
	return err == nil && v == s
}
