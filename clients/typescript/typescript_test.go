// Package typescript_test checks the TypeScript client in this directory:
// its committed types are what openapi-typescript makes of the committed
// openapi.yaml, the generator has nothing to warn about, and the client
// and its example type-check under tsc --strict.
//
// It needs Node.js (node and npm on PATH). Without them the test is
// skipped, unless CI=true, where it fails.
package typescript_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// timeout bounds the whole test: npm ci, the generator and tsc.
const timeout = 5 * time.Minute

// generatorArgs is how package.json's generate script runs
// openapi-typescript, without its -o output.
var generatorArgs = []string{"openapi-typescript", "../../openapi.yaml"}

// committedSchema is the generated file, relative to this directory.
const committedSchema = "src/schema.d.ts"

// complaint matches an output line that reports a warning or an error.
var complaint = regexp.MustCompile(`(?i)warn|error|⚠|✘`)

func TestTypeScriptClient(t *testing.T) {
	npm := requireTool(t, "npm")
	requireTool(t, "node")
	// The subtests run in parallel after this function returns, so the
	// context ends with the test's cleanup, not with a deferred cancel.
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	t.Cleanup(cancel)

	if out, _, err := run(ctx, npm, "ci", "--no-audit", "--no-fund"); err != nil {
		t.Fatalf("npm ci failed: %v\n%s", err, out)
	}

	t.Run("schema is generated from openapi.yaml", func(t *testing.T) {
		t.Parallel()
		checkGenerateScript(t)
		fresh := filepath.Join(t.TempDir(), "schema.d.ts")
		args := append([]string{"exec", "--no", "--"}, generatorArgs...)
		stdout, stderr, err := run(ctx, npm, append(args, "-o", fresh)...)
		if err != nil {
			t.Fatalf("openapi-typescript failed: %v\n%s%s", err, stdout, stderr)
		}
		if bad := complaints(stdout, stderr); len(bad) > 0 {
			t.Errorf("openapi-typescript warned about openapi.yaml:\n%s", strings.Join(bad, "\n"))
		}
		compareGenerated(t, fresh)
	})

	t.Run("tsc --strict accepts the client and example", func(t *testing.T) {
		t.Parallel()
		stdout, stderr, err := run(ctx, npm, "exec", "--no", "--", "tsc", "--strict", "--noEmit", "-p", ".")
		if err != nil || strings.TrimSpace(stdout+stderr) != "" {
			t.Fatalf("tsc --strict --noEmit failed (%v):\n%s%s", err, stdout, stderr)
		}
	})
}

// requireTool returns the path of the named program, skipping the test
// when it is not installed, or failing it when CI=true.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not on PATH; CI needs Node.js to check the TypeScript client", name)
	}
	t.Skipf("%s is not on PATH: skipping the TypeScript client checks (with CI=true this fails)", name)
	return ""
}

// run runs a program in this directory, without npm's update notice or
// colors, and returns what it printed on stdout and on stderr.
func run(ctx context.Context, name string, args ...string) (stdout, stderr string, err error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "npm_config_update_notifier=false", "NO_COLOR=1", "FORCE_COLOR=0")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), ctx.Err())
	}
	return out.String(), errOut.String(), err
}

// checkGenerateScript fails the test unless package.json's generate script
// is the command this test runs, so both make the same file.
func checkGenerateScript(t *testing.T) {
	t.Helper()
	raw, err := os.ReadFile("package.json")
	if err != nil {
		t.Fatal(err)
	}
	var pkg struct {
		Scripts map[string]string `json:"scripts"`
	}
	if err := json.Unmarshal(raw, &pkg); err != nil {
		t.Fatalf("package.json: %v", err)
	}
	want := strings.Join(generatorArgs, " ") + " -o " + committedSchema
	if got := pkg.Scripts["generate"]; got != want {
		t.Fatalf("package.json's generate script is %q; this test regenerates with %q", got, want)
	}
}

// complaints returns the generator's output lines that are not success:
// every line that mentions a warning or error, and every line on stderr
// other than its "✨ openapi-typescript" banner and "🚀 … → …" summary.
func complaints(stdout, stderr string) []string {
	var bad []string
	for _, line := range strings.Split(stdout, "\n") {
		if complaint.MatchString(line) {
			bad = append(bad, line)
		}
	}
	for _, line := range strings.Split(stderr, "\n") {
		trimmed := strings.TrimSpace(line)
		success := strings.HasPrefix(trimmed, "✨") || strings.HasPrefix(trimmed, "🚀")
		if trimmed != "" && (!success || complaint.MatchString(line)) {
			bad = append(bad, line)
		}
	}
	return bad
}

// compareGenerated fails the test, naming the first line that differs,
// unless the freshly generated file equals the committed one.
func compareGenerated(t *testing.T, fresh string) {
	t.Helper()
	want, err := os.ReadFile(fresh)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(committedSchema)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(got, want) {
		return
	}
	gotLines, wantLines := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	line := 0
	for line < len(gotLines) && line < len(wantLines) && gotLines[line] == wantLines[line] {
		line++
	}
	t.Fatalf("clients/typescript/%s is not what openapi.yaml generates (first difference at line %d):\n"+
		"  committed: %s\n  generated: %s\n"+
		"run `npm run generate` in clients/typescript and commit the result",
		committedSchema, line+1, lineAt(gotLines, line), lineAt(wantLines, line))
}

// lineAt returns lines[i] quoted, or "(end of file)" past the end.
func lineAt(lines []string, i int) string {
	if i < len(lines) {
		return fmt.Sprintf("%q", lines[i])
	}
	return "(end of file)"
}
