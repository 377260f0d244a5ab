package authz

import (
	"context"
	"fmt"

	"github.com/proxyhub/proxyhub/internal/auth"
)

// Rules is the Go implementation of the authorization rules. Default deny:
// an action not listed for a role is refused.
type Rules struct{}

var _ Authorizer = Rules{}

// roleActions lists what each tenant role may do inside its own tenant.
var roleActions = map[auth.Role][]Action{
	auth.RoleOwner: {TenantRead, TenantUpdate, TokenCreate, TokenList, TokenRevoke,
		CredentialCreate, CredentialList, CredentialRevoke, ProxyList, ProxyRead, ProxyDelete, ProxyUpdate, AuditRead, StatusRead,
		WebhookRead, WebhookWrite},
	auth.RoleAdmin: {TenantRead, TenantUpdate, TokenCreate, TokenList, TokenRevoke,
		CredentialCreate, CredentialList, CredentialRevoke, ProxyList, ProxyRead, ProxyDelete, ProxyUpdate, AuditRead, StatusRead,
		WebhookRead, WebhookWrite},
	auth.RoleViewer: {TenantRead, ProxyList, ProxyRead, AuditRead, StatusRead},
}

// heartbeatActions is what a heartbeat token may do in its own tenant.
var heartbeatActions = []Action{HeartbeatSend, StatusRead}

// rank orders roles by power, for credential grants.
var rank = map[auth.Role]int{auth.RoleViewer: 1, auth.RoleAdmin: 2, auth.RoleOwner: 3, auth.RolePlatform: 4}

// Authorize implements Authorizer.
func (Rules) Authorize(_ context.Context, p auth.Principal, a Action, r Resource) error {
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
	allowed := heartbeatActions
	if p.Kind == auth.KindAdmin {
		allowed = roleActions[p.Role]
	}
	for _, x := range allowed {
		if x == a {
			if a == CredentialCreate && rank[r.GrantRole] > rank[p.Role] {
				return fmt.Errorf("%w: %s may not grant %s", ErrForbidden, p.Role, r.GrantRole)
			}
			return nil
		}
	}
	return fmt.Errorf("%w: %s %s may not %s", ErrForbidden, p.Kind, p.Role, a)
}
