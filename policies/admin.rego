# proxyhub.admin decides every authorization of the API: may this principal
# perform this action on this resource? internal/policy evaluates
# data.proxyhub.admin.decision for Engine.Authorize and caches each decision
# until the tenant data changes.
#
# input:
#   principal  {"kind": "admin"|"heartbeat", "id", "tenant", "role", "proxy"}
#              tenant is "" for the platform role; role is "" for heartbeat
#              tokens; proxy is the only proxy a bound heartbeat token may
#              heartbeat ("" when unbound)
#   action     string, e.g. "token.create" (internal/authz lists them)
#   resource   {"tenant", "grant_role", "proxy", "admin_allowlist", "force"}:
#              the tenant the resource belongs to ("" for hub-wide
#              collections), the role of the credential being created or
#              revoked, the proxy a heartbeat is for; for
#              tenant.admin_allowlist.update the new admin allowlist and
#              whether the caller forces it on itself
#   client_ip  string, the resolved client IP; absent when unknown
#
# data:
#   tenants[id].admin_allowlist  [string]  networks the tenant's admins must
#                                          call from; empty or absent: any
#
# decision: {"allow": bool, "hidden": bool, "reason": string}. hidden means
# the resource belongs to another tenant, whose existence stays hidden (404);
# any other denial is forbidden (403). The first matching step decides:
#
#   1. platform (admin JWT, role platform): everything but heartbeat.send and
#      status.read; not subject to any tenant's admin allowlist
#   2. a hub-wide resource, or a principal without tenant: forbidden
#   3. a resource of another tenant: hidden
#   4. an admin JWT calling from outside its tenant's non-empty
#      admin_allowlist (or with no known client IP): forbidden
#   5. a token bound to one proxy heartbeating another: forbidden
#   6. an action not in the role's list (admin JWT) or the heartbeat token's
#      list; any other kind of principal has no list: forbidden
#   7. credential.create granting, or credential.revoke revoking, a role
#      ranked above the caller's: forbidden
#   8. tenant.admin_allowlist.update to a non-empty list the caller's own
#      address is outside of (or unknown), unless forced: forbidden (the
#      change would lock the caller out)
#   9. allowed
#
# Admins and owners share every action but tenant.admin_allowlist.update,
# which can lock others out and is the owner's alone; credentials of a role
# above an admin's (an owner's) are out of an admin's reach by step 7.
#
# Steps 1-3 and 5-8 are the Go rules this policy replaced (kept as the
# parity reference in internal/policy/gorules_test.go), messages included, except that the Go rules gave a principal of an unknown kind the
# heartbeat token's list; step 4 is new. Whatever no step allows is denied.
package proxyhub.admin

default decision := {"allow": false, "hidden": false, "reason": "default_deny"}

decision := forbid("platform principals do not heartbeat") if {
	is_platform
	input.action in heartbeat_actions
} else := allowed if {
	is_platform
} else := forbid(sprintf("%s is for the platform role", [input.action])) if {
	not tenant_scoped
} else := hide(sprintf("tenant %s", [input.resource.tenant])) if {
	input.resource.tenant != input.principal.tenant
} else := forbid("client IP is outside the tenant's admin allowlist") if {
	input.principal.kind == "admin"
	not admin_ip_allowed
} else := forbid("token is bound to another proxy") if {
	input.action == "heartbeat.send"
	principal_proxy != ""
	resource_proxy != principal_proxy
} else := forbid(sprintf("%s %s may not %s", [input.principal.kind, principal_role, input.action])) if {
	not action_permitted
} else := forbid(sprintf("%s may not grant %s", [principal_role, grant_role])) if {
	input.action == "credential.create"
	rank_of(grant_role) > rank_of(principal_role)
} else := forbid(sprintf("%s may not revoke a %s credential", [principal_role, grant_role])) if {
	input.action == "credential.revoke"
	rank_of(grant_role) > rank_of(principal_role)
} else := forbid("the new admin allowlist would lock out the caller's own address; force it to apply it anyway") if {
	input.action == "tenant.admin_allowlist.update"
	count(new_admin_allowlist) > 0
	not object.get(input.resource, "force", false)
	not in_new_admin_allowlist
} else := allowed if {
	action_permitted
}

allowed := {"allow": true, "hidden": false, "reason": "allowed"}

forbid(reason) := {"allow": false, "hidden": false, "reason": reason}

hide(reason) := {"allow": false, "hidden": true, "reason": reason}

# role_actions lists what each admin role may do inside its own tenant.
role_actions := {
	"owner": tenant_admin_actions | {"tenant.admin_allowlist.update"},
	"admin": tenant_admin_actions,
	"viewer": {"tenant.read", "proxy.list", "proxy.read", "audit.read", "status.read", "maintenance.read"},
}

tenant_admin_actions := {
	"tenant.read", "tenant.update",
	"token.create", "token.list", "token.revoke",
	"credential.create", "credential.list", "credential.revoke",
	"proxy.list", "proxy.read", "proxy.delete", "proxy.update",
	"audit.read", "status.read",
	"webhook.read", "webhook.write",
	"badge.read", "badge.write",
	"maintenance.read", "maintenance.write",
}

# heartbeat_actions is what a heartbeat token may do in its own tenant.
heartbeat_actions := {"heartbeat.send", "status.read"}

# rank orders roles by power: nobody grants a role above their own. Unknown
# roles rank 0.
rank := {"viewer": 1, "admin": 2, "owner": 3, "platform": 4}

rank_of(role) := object.get(rank, role, 0)

principal_role := object.get(input.principal, "role", "")

principal_proxy := object.get(input.principal, "proxy", "")

resource_proxy := object.get(input.resource, "proxy", "")

grant_role := object.get(input.resource, "grant_role", "")

# is_platform: an admin JWT with the platform role operates the whole hub. It
# is not subject to any tenant's admin allowlist.
is_platform if {
	input.principal.kind == "admin"
	input.principal.role == "platform"
}

tenant_scoped if {
	input.principal.tenant != ""
	input.resource.tenant != ""
}

action_permitted if {
	input.principal.kind == "admin"
	input.action in role_actions[principal_role]
}

action_permitted if {
	input.principal.kind == "heartbeat"
	input.action in heartbeat_actions
}

default admin_allowlist := []

admin_allowlist := data.tenants[input.principal.tenant].admin_allowlist

# admin_ip_allowed: the tenant has no admin allowlist, or the client IP is one
# address inside a network of it, of the same family (an IPv4 address never
# matches an IPv6 network and the reverse). An unknown client IP is outside
# every list.
admin_ip_allowed if count(admin_allowlist) == 0

admin_ip_allowed if {
	is_string(input.client_ip)
	not contains(input.client_ip, "/")
	client_is_v6 := contains(input.client_ip, ":")
	some cidr in admin_allowlist
	contains(cidr, ":") == client_is_v6
	net.cidr_contains(cidr, input.client_ip)
}

new_admin_allowlist := object.get(input.resource, "admin_allowlist", [])

# in_new_admin_allowlist: the caller's client IP is inside a network of the
# admin allowlist being set, of the same family (as admin_ip_allowed).
in_new_admin_allowlist if {
	is_string(input.client_ip)
	not contains(input.client_ip, "/")
	client_is_v6 := contains(input.client_ip, ":")
	some cidr in new_admin_allowlist
	contains(cidr, ":") == client_is_v6
	net.cidr_contains(cidr, input.client_ip)
}
