package policy

// What the admin API asks the policy: may this principal perform this
// action on this resource? The HTTP layer names the action and resource of
// each operation; admin.rego decides.

import (
	"context"
	"errors"

	"github.com/proxyhub/proxyhub/internal/auth"
)

// Action is an operation a principal asks to perform.
type Action string

// The actions of the API.
const (
	HeartbeatSend Action = "heartbeat.send"
	StatusRead    Action = "status.read"
	TenantCreate  Action = "tenant.create"
	TenantList    Action = "tenant.list"
	TenantRead    Action = "tenant.read"
	TenantUpdate  Action = "tenant.update"
	// AdminAllowlistUpdate changes the networks a tenant's admins must call
	// from: the owner's alone, since it can lock others out.
	AdminAllowlistUpdate Action = "tenant.admin_allowlist.update"
	TokenCreate          Action = "token.create"
	TokenList            Action = "token.list"
	TokenRevoke          Action = "token.revoke"
	CredentialCreate     Action = "credential.create"
	CredentialList       Action = "credential.list"
	CredentialRevoke     Action = "credential.revoke"
	ProxyList            Action = "proxy.list"
	ProxyRead            Action = "proxy.read"
	ProxyDelete          Action = "proxy.delete"
	ProxyUpdate          Action = "proxy.update"
	AuditRead            Action = "audit.read"
	WebhookRead          Action = "webhook.read"
	WebhookWrite         Action = "webhook.write"
	BadgeRead            Action = "badge.read"
	BadgeWrite           Action = "badge.write"
	MaintenanceRead      Action = "maintenance.read"
	MaintenanceWrite     Action = "maintenance.write"
)

// Resource is what an action is aimed at.
type Resource struct {
	// TenantID is the tenant the resource belongs to; empty for hub-wide
	// collections (the tenant list).
	TenantID string
	// GrantRole is the role of the credential being created or revoked
	// (credential.create, credential.revoke), so nobody grants more than
	// they hold, nor revokes the credential of a role above theirs.
	GrantRole auth.Role
	// Proxy is the proxy a heartbeat is for (heartbeat.send only), so a
	// token bound to one proxy cannot speak for another.
	Proxy string
	// AdminAllowlist is the admin allowlist being set and Force whether
	// the caller sets it even though it excludes their own address
	// (tenant.admin_allowlist.update only).
	AdminAllowlist []string
	Force          bool
}

// Errors of Authorize. The HTTP layer answers 404 for ErrHidden (the
// resource belongs to another tenant, whose existence stays hidden) and 403
// for ErrForbidden (the caller's own tenant, but its role may not).
var (
	ErrForbidden = errors.New("policy: forbidden")
	ErrHidden    = errors.New("policy: not visible to this principal")
)

// Authorizer decides whether principal may perform action on resource:
// nil to allow, an error wrapping ErrForbidden or ErrHidden to deny. Any
// other error is a failure to decide and must be treated as a denial.
type Authorizer interface {
	Authorize(ctx context.Context, p auth.Principal, action Action, r Resource) error
}
