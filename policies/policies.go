// Package policies holds proxyhub's Rego policies, embedded into the binary:
// heartbeat.rego (package proxyhub.heartbeat, the source-IP decision for
// heartbeats) and admin.rego (package proxyhub.admin, the authorization
// decision of the admin API), beside their _test.rego tests.
//
// internal/policy compiles the policies and evaluates them; it skips the
// _test.rego files, which only its tests load (through OPA's tester, so no
// opa binary is needed). An operator may point PROXYHUB_POLICY_DIR at a
// directory holding their own copy of these files instead.
package policies

import "embed"

// FS is the set of policy files (*.rego, tests included) at its root.
//
//go:embed *.rego
var FS embed.FS
