package policies_test

import (
	"io/fs"
	"testing"

	"github.com/proxyhub/proxyhub/policies"
)

func TestFS_HoldsThePoliciesAndTheirTests(t *testing.T) {
	for _, name := range []string{"heartbeat.rego", "admin.rego", "heartbeat_test.rego", "admin_test.rego"} {
		if b, err := fs.ReadFile(policies.FS, name); err != nil || len(b) == 0 {
			t.Errorf("%s: %v (%d bytes)", name, err, len(b))
		}
	}
}
