package client_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/proxyhub/proxyhub/internal/httpapi"
)

// oapiCodegen runs the generator the module declares (go tool
// oapi-codegen) on spec with the SDK's configuration, writing to out, and
// returns what the generator printed. The go command's own progress lines
// ("go: downloading …", printed when the module cache is cold) are not the
// generator's and are left out.
func oapiCodegen(t *testing.T, spec, out string) string {
	t.Helper()
	cfg, err := os.ReadFile("oapi-codegen.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tmpCfg := filepath.Join(t.TempDir(), "oapi-codegen.yaml")
	cfg = bytes.Replace(cfg, []byte("output: client.gen.go"), []byte("output: "+out), 1)
	if err := os.WriteFile(tmpCfg, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "tool", "oapi-codegen", "-config", tmpCfg, spec)
	printed, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("oapi-codegen on %s failed: %v\n%s", spec, err, printed)
	}
	var own strings.Builder
	for _, line := range strings.SplitAfter(string(printed), "\n") {
		if !strings.HasPrefix(line, "go: downloading ") {
			own.WriteString(line)
		}
	}
	return own.String()
}

// The committed SDK is exactly what the generator makes of the committed
// document, and the generator has nothing to warn about.
func TestSDK_IsGeneratedFromTheCommittedDocument(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "client.gen.go")
	if printed := oapiCodegen(t, "../../openapi.yaml", out); strings.TrimSpace(printed) != "" {
		t.Errorf("oapi-codegen printed warnings:\n%s", printed)
	}
	fresh, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile("client.gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(fresh, committed) {
		t.Fatal("api/client/client.gen.go differs from what openapi.yaml generates: run `go generate ./api/...` and commit it")
	}
}

// The OpenAPI 3.0 rendering the hub serves at /openapi-3.0.yaml, for
// tools that do not read 3.1, generates a client as cleanly.
func TestSDK_GeneratesFromTheOpenAPI30Document(t *testing.T) {
	t.Parallel()
	doc, err := httpapi.OpenAPI().Downgrade()
	if err != nil {
		t.Fatal(err)
	}
	spec := filepath.Join(t.TempDir(), "openapi-3.0.json")
	if err := os.WriteFile(spec, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "client.gen.go")
	if printed := oapiCodegen(t, spec, out); strings.TrimSpace(printed) != "" {
		t.Errorf("oapi-codegen printed warnings on the 3.0 document:\n%s", printed)
	}
	vet := exec.Command("go", "vet", out)
	if printed, err := vet.CombinedOutput(); err != nil {
		t.Fatalf("the client generated from the 3.0 document does not build: %v\n%s", err, printed)
	}
}
