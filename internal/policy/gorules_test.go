package policy

import (
	"context"
	"fmt"

	"github.com/proxyhub/proxyhub/internal/auth"
)

// goRules states the authorization rules of policies/admin.rego a second
// time, in plain Go and in the tests only: the reference the Rego policy is
// checked against (parity tests).
type goRules struct{}

// roleActions lists what each tenant role may do inside its own tenant.
var goRoleActions = map[auth.Role][]Action{
	auth.RoleOwner: {TenantRead, TenantUpdate, AdminAllowlistUpdate, TokenCreate, TokenList, TokenRevoke,
		CredentialCreate, CredentialList, CredentialRevoke, ProxyList, ProxyRead, ProxyDelete, ProxyUpdate, AuditRead, StatusRead,
		WebhookRead, WebhookWrite, BadgeRead, BadgeWrite, MaintenanceRead, MaintenanceWrite},
	auth.RoleAdmin: {TenantRead, TenantUpdate, TokenCreate, TokenList, TokenRevoke,
		CredentialCreate, CredentialList, CredentialRevoke, ProxyList, ProxyRead, ProxyDelete, ProxyUpdate, AuditRead, StatusRead,
		WebhookRead, WebhookWrite, BadgeRead, BadgeWrite, MaintenanceRead, MaintenanceWrite},
	auth.RoleViewer: {TenantRead, ProxyList, ProxyRead, AuditRead, StatusRead, MaintenanceRead},
}

// heartbeatActions is what a heartbeat token may do in its own tenant.
var goHeartbeatActions = []Action{HeartbeatSend, StatusRead}

// rank orders roles by power, for credential grants.
var goRank = map[auth.Role]int{auth.RoleViewer: 1, auth.RoleAdmin: 2, auth.RoleOwner: 3, auth.RolePlatform: 4}

// Authorize applies the Go rules.
func (goRules) Authorize(_ context.Context, p auth.Principal, a Action, r Resource) error {
	if p.IsPlatform() {
		if a == HeartbeatSend || a == StatusRead {
			return fmt.Errorf("%w: platform principals do not heartbeat", ErrForbidden)
		}
		return nil
	}
	if r.TenantID == "" || p.TenantID == "" {
		return fmt.Errorf("%w: %s is for the platform role", ErrForbidden, a)
	}
	if r.TenantID != p.TenantID {
		return fmt.Errorf("%w: tenant %s", ErrHidden, r.TenantID)
	}
	if a == HeartbeatSend && p.Proxy != "" && r.Proxy != p.Proxy {
		return fmt.Errorf("%w: token is bound to another proxy", ErrForbidden)
	}
	allowed := goHeartbeatActions
	if p.Kind == auth.KindAdmin {
		allowed = goRoleActions[p.Role]
	}
	for _, x := range allowed {
		if x == a {
			if a == CredentialCreate && goRank[r.GrantRole] > goRank[p.Role] {
				return fmt.Errorf("%w: %s may not grant %s", ErrForbidden, p.Role, r.GrantRole)
			}
			if a == CredentialRevoke && goRank[r.GrantRole] > goRank[p.Role] {
				return fmt.Errorf("%w: %s may not revoke a %s credential", ErrForbidden, p.Role, r.GrantRole)
			}
			return nil
		}
	}
	return fmt.Errorf("%w: %s %s may not %s", ErrForbidden, p.Kind, p.Role, a)
}
