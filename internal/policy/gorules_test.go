package policy

import (
	"context"
	"fmt"

	"github.com/proxyhub/proxyhub/internal/auth"
	"github.com/proxyhub/proxyhub/internal/authz"
)

// goRules is the Go implementation of the authorization rules that
// policies/admin.rego replaced. It stays here, in the tests only, as the
// reference the Rego policy is checked against (parity tests).
type goRules struct{}

// roleActions lists what each tenant role may do inside its own tenant.
var goRoleActions = map[auth.Role][]authz.Action{
	auth.RoleOwner: {authz.TenantRead, authz.TenantUpdate, authz.TokenCreate, authz.TokenList, authz.TokenRevoke,
		authz.CredentialCreate, authz.CredentialList, authz.CredentialRevoke, authz.ProxyList, authz.ProxyRead, authz.ProxyDelete, authz.ProxyUpdate, authz.AuditRead, authz.StatusRead,
		authz.WebhookRead, authz.WebhookWrite},
	auth.RoleAdmin: {authz.TenantRead, authz.TenantUpdate, authz.TokenCreate, authz.TokenList, authz.TokenRevoke,
		authz.CredentialCreate, authz.CredentialList, authz.CredentialRevoke, authz.ProxyList, authz.ProxyRead, authz.ProxyDelete, authz.ProxyUpdate, authz.AuditRead, authz.StatusRead,
		authz.WebhookRead, authz.WebhookWrite},
	auth.RoleViewer: {authz.TenantRead, authz.ProxyList, authz.ProxyRead, authz.AuditRead, authz.StatusRead},
}

// heartbeatActions is what a heartbeat token may do in its own tenant.
var goHeartbeatActions = []authz.Action{authz.HeartbeatSend, authz.StatusRead}

// rank orders roles by power, for credential grants.
var goRank = map[auth.Role]int{auth.RoleViewer: 1, auth.RoleAdmin: 2, auth.RoleOwner: 3, auth.RolePlatform: 4}

// Authorize applies the Go rules.
func (goRules) Authorize(_ context.Context, p auth.Principal, a authz.Action, r authz.Resource) error {
	if p.IsPlatform() {
		if a == authz.HeartbeatSend || a == authz.StatusRead {
			return fmt.Errorf("%w: platform principals do not heartbeat", authz.ErrForbidden)
		}
		return nil
	}
	if r.TenantID == "" || p.TenantID == "" {
		return fmt.Errorf("%w: %s is for the platform role", authz.ErrForbidden, a)
	}
	if r.TenantID != p.TenantID {
		return fmt.Errorf("%w: tenant %s", authz.ErrHidden, r.TenantID)
	}
	if a == authz.HeartbeatSend && p.Proxy != "" && r.Proxy != p.Proxy {
		return fmt.Errorf("%w: token is bound to another proxy", authz.ErrForbidden)
	}
	allowed := goHeartbeatActions
	if p.Kind == auth.KindAdmin {
		allowed = goRoleActions[p.Role]
	}
	for _, x := range allowed {
		if x == a {
			if a == authz.CredentialCreate && goRank[r.GrantRole] > goRank[p.Role] {
				return fmt.Errorf("%w: %s may not grant %s", authz.ErrForbidden, p.Role, r.GrantRole)
			}
			return nil
		}
	}
	return fmt.Errorf("%w: %s %s may not %s", authz.ErrForbidden, p.Kind, p.Role, a)
}
