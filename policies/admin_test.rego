# Tests of proxyhub.admin. Run by internal/policy's Go tests (OPA's tester
# package), or with `opa test policies/`.
package proxyhub.admin_test

import data.proxyhub.admin

tenants := {
	"acme": {"allowlist": ["198.51.100.0/24"], "admin_allowlist": []},
	"locked": {"allowlist": [], "admin_allowlist": ["192.0.2.0/24", "2001:db8::/32"]},
	"locked6": {"allowlist": [], "admin_allowlist": ["2001:db8::/32"]},
}

all_actions := {
	"heartbeat.send", "status.read",
	"tenant.create", "tenant.list", "tenant.read", "tenant.update",
	"token.create", "token.list", "token.revoke",
	"credential.create", "credential.list", "credential.revoke",
	"proxy.list", "proxy.read", "proxy.delete", "proxy.update",
	"audit.read", "webhook.read", "webhook.write",
	"badge.read", "badge.write",
	"maintenance.read", "maintenance.write",
	"tenant.admin_allowlist.update",
}

platform := {"kind": "admin", "id": "ops", "tenant": "", "role": "platform", "proxy": ""}

tenant_admin(tenant, role) := {"kind": "admin", "id": "alice", "tenant": tenant, "role": role, "proxy": ""}

token(tenant, proxy) := {"kind": "heartbeat", "id": "tok_1", "tenant": tenant, "role": "", "proxy": proxy}

res(tenant) := {"tenant": tenant, "grant_role": "", "proxy": ""}

# decide evaluates the decision without a client IP.
decide(p, action, r) := d if {
	d := admin.decision with input as {"principal": p, "action": action, "resource": r}
		with data.tenants as tenants
}

# decide_from evaluates the decision for a call from ip.
decide_from(p, action, r, ip) := d if {
	d := admin.decision with input as {"principal": p, "action": action, "resource": r, "client_ip": ip}
		with data.tenants as tenants
}

# permitted is the set of actions p may perform on r.
permitted(p, r) := {a | some a in all_actions; decide(p, a, r).allow}

forbidden(d) if {
	d.allow == false
	d.hidden == false
}

hidden(d) if {
	d.allow == false
	d.hidden == true
}

# Platform.

test_platform_may_do_everything_but_heartbeat if {
	permitted(platform, res("acme")) == all_actions - {"heartbeat.send", "status.read"}
	permitted(platform, res("")) == all_actions - {"heartbeat.send", "status.read"}
}

test_platform_does_not_heartbeat if {
	d := decide(platform, "heartbeat.send", res("acme"))
	forbidden(d)
	d.reason == "platform principals do not heartbeat"
	forbidden(decide(platform, "status.read", res("acme")))
}

test_platform_may_grant_any_role if {
	decide(platform, "credential.create", {"tenant": "acme", "grant_role": "platform"}).allow
	decide(platform, "credential.create", {"tenant": "acme", "grant_role": "owner"}).allow
}

test_platform_is_exempt_from_admin_allowlists if {
	decide_from(platform, "token.revoke", res("locked"), "8.8.8.8").allow
	decide(platform, "token.revoke", res("locked")).allow
}

# Principals of a tenant, on hub-wide resources.

test_hub_wide_actions_are_for_the_platform if {
	d := decide(tenant_admin("acme", "owner"), "tenant.list", res(""))
	forbidden(d)
	d.reason == "tenant.list is for the platform role"
	forbidden(decide(tenant_admin("acme", "owner"), "tenant.create", res("")))
	forbidden(decide(token("acme", ""), "status.read", res("")))
}

test_a_non_platform_principal_without_tenant_is_forbidden if {
	forbidden(decide(tenant_admin("", "owner"), "tenant.read", res("acme")))
	forbidden(decide(token("", ""), "heartbeat.send", res("acme")))
}

# Other tenants stay hidden.

test_other_tenant_is_hidden_for_every_role_and_action if {
	every p in [
		tenant_admin("acme", "owner"), tenant_admin("acme", "admin"), tenant_admin("acme", "viewer"),
		tenant_admin("acme", "nonsense"), token("acme", ""), token("acme", "proxy001"),
	] {
		every a in all_actions {
			hidden(decide(p, a, res("globex")))
		}
	}
}

test_hidden_reason_names_the_tenant if decide(tenant_admin("acme", "owner"), "proxy.list", res("globex")).reason == "tenant globex"

test_hidden_wins_over_the_admin_allowlist if {
	# locked's admin outside locked's allowlist asks about acme: still 404.
	hidden(decide_from(tenant_admin("locked", "owner"), "proxy.list", res("acme"), "8.8.8.8"))
}

# Role × action table, in the principal's own tenant.

admin_actions := {
	"tenant.read", "tenant.update",
	"token.create", "token.list", "token.revoke",
	"credential.create", "credential.list", "credential.revoke",
	"proxy.list", "proxy.read", "proxy.delete", "proxy.update",
	"audit.read", "status.read",
	"webhook.read", "webhook.write",
	"badge.read", "badge.write",
	"maintenance.read", "maintenance.write",
}

test_owner_actions if permitted(tenant_admin("acme", "owner"), res("acme")) == admin_actions | {"tenant.admin_allowlist.update"}

test_admin_actions if permitted(tenant_admin("acme", "admin"), res("acme")) == admin_actions

test_viewer_actions if {
	permitted(tenant_admin("acme", "viewer"), res("acme")) == {"tenant.read", "proxy.list", "proxy.read", "audit.read", "status.read", "maintenance.read"}
}

test_viewer_forbidden_reason if {
	d := decide(tenant_admin("acme", "viewer"), "token.create", res("acme"))
	forbidden(d)
	d.reason == "admin viewer may not token.create"
}

test_unknown_role_may_do_nothing if {
	permitted(tenant_admin("acme", "superuser"), res("acme")) == set()
	permitted(tenant_admin("acme", ""), res("acme")) == set()
}

test_heartbeat_token_actions if {
	permitted(token("acme", ""), res("acme")) == {"heartbeat.send", "status.read"}
	d := decide(token("acme", ""), "proxy.delete", res("acme"))
	forbidden(d)
	d.reason == "heartbeat  may not proxy.delete"
}

test_unknown_kind_may_do_nothing if {
	p := {"kind": "robot", "id": "r", "tenant": "acme", "role": "owner", "proxy": ""}
	permitted(p, res("acme")) == set()
}

test_unknown_action_is_denied if {
	forbidden(decide(tenant_admin("acme", "owner"), "tenant.destroy", res("acme")))
	forbidden(decide(platform, "heartbeat.send", res("")))
}

test_empty_input_is_denied if {
	d := admin.decision with input as {}
	d == {"allow": false, "hidden": false, "reason": "default_deny"}
}

# Bound heartbeat tokens.

test_bound_token_heartbeats_its_own_proxy if {
	decide(token("acme", "proxy001"), "heartbeat.send", {"tenant": "acme", "proxy": "proxy001"}).allow
}

test_bound_token_may_not_heartbeat_another_proxy if {
	d := decide(token("acme", "proxy001"), "heartbeat.send", {"tenant": "acme", "proxy": "proxy002"})
	forbidden(d)
	d.reason == "token is bound to another proxy"
	forbidden(decide(token("acme", "proxy001"), "heartbeat.send", {"tenant": "acme", "proxy": ""}))
	forbidden(decide(token("acme", "proxy001"), "heartbeat.send", {"tenant": "acme"}))
}

test_bound_token_still_reads_status if {
	decide(token("acme", "proxy001"), "status.read", res("acme")).allow
}

test_unbound_token_heartbeats_any_proxy if {
	decide(token("acme", ""), "heartbeat.send", {"tenant": "acme", "proxy": "anything"}).allow
}

# Grants: nobody grants a role above their own.

grant(role, grant_role) := decide(tenant_admin("acme", role), "credential.create", {"tenant": "acme", "grant_role": grant_role})

test_owner_grants_up_to_owner if {
	grant("owner", "owner").allow
	grant("owner", "admin").allow
	grant("owner", "viewer").allow
	d := grant("owner", "platform")
	forbidden(d)
	d.reason == "owner may not grant platform"
}

test_admin_grants_up_to_admin if {
	grant("admin", "admin").allow
	grant("admin", "viewer").allow
	forbidden(grant("admin", "owner"))
	forbidden(grant("admin", "platform"))
}

test_viewer_grants_nothing if {
	every r in ["viewer", "admin", "owner", "platform", ""] {
		forbidden(grant("viewer", r))
	}
}

test_unknown_grant_role_ranks_lowest if {
	# As in the Go rules: rank 0; validating role names is the handler's job.
	grant("admin", "").allow
	grant("admin", "nonsense").allow
}

# The tenant's admin allowlist.

test_admin_allowlist_inside if {
	decide_from(tenant_admin("locked", "owner"), "token.create", res("locked"), "192.0.2.0").allow
	decide_from(tenant_admin("locked", "owner"), "token.create", res("locked"), "192.0.2.255").allow
	decide_from(tenant_admin("locked", "viewer"), "proxy.list", res("locked"), "2001:db8::1").allow
}

test_admin_allowlist_outside if {
	d := decide_from(tenant_admin("locked", "owner"), "token.create", res("locked"), "192.0.3.0")
	forbidden(d)
	d.reason == "client IP is outside the tenant's admin allowlist"
	forbidden(decide_from(tenant_admin("locked", "owner"), "tenant.read", res("locked"), "192.0.1.255"))
	forbidden(decide_from(tenant_admin("locked", "viewer"), "proxy.list", res("locked"), "2001:db9::1"))
}

test_admin_allowlist_without_client_ip_is_outside if {
	forbidden(decide(tenant_admin("locked", "owner"), "tenant.read", res("locked")))
	forbidden(decide_from(tenant_admin("locked", "owner"), "tenant.read", res("locked"), ""))
}

test_admin_allowlist_client_ip_must_be_an_address if {
	forbidden(decide_from(tenant_admin("locked", "owner"), "tenant.read", res("locked"), "192.0.2.0/25"))
	forbidden(decide_from(tenant_admin("locked", "owner"), "tenant.read", res("locked"), "not-an-ip"))
}

test_admin_allowlist_families_do_not_mix if {
	forbidden(decide_from(tenant_admin("locked6", "owner"), "tenant.read", res("locked6"), "192.0.2.1"))
	decide_from(tenant_admin("locked6", "owner"), "tenant.read", res("locked6"), "2001:db8::1").allow
}

test_admin_allowlist_does_not_widen_roles if {
	forbidden(decide_from(tenant_admin("locked", "viewer"), "token.create", res("locked"), "192.0.2.1"))
}

test_admin_allowlist_does_not_apply_to_heartbeat_tokens if {
	decide_from(token("locked", ""), "status.read", res("locked"), "8.8.8.8").allow
	decide(token("locked", ""), "heartbeat.send", {"tenant": "locked", "proxy": "p"}).allow
}

test_empty_admin_allowlist_accepts_any_address if {
	decide_from(tenant_admin("acme", "owner"), "tenant.read", res("acme"), "8.8.8.8").allow
	decide(tenant_admin("acme", "owner"), "tenant.read", res("acme")).allow
}

test_heartbeat_allowlist_does_not_restrict_admins if {
	# acme's heartbeat allowlist is 198.51.100.0/24.
	decide_from(tenant_admin("acme", "owner"), "tenant.read", res("acme"), "8.8.8.8").allow
}

test_unknown_tenant_has_no_admin_allowlist if {
	decide_from(tenant_admin("ghost", "owner"), "tenant.read", res("ghost"), "8.8.8.8").allow
}

test_no_tenant_data_at_all if {
	d := admin.decision with input as {
		"principal": tenant_admin("locked", "owner"),
		"action": "tenant.read",
		"resource": res("locked"),
	}
	d.allow
}

# The owner/admin split: an admin cannot touch an owner's credentials nor
# the settings that can lock others out; nobody locks themselves out
# without saying so.

revoke(role, target) := decide(tenant_admin("acme", role), "credential.revoke", {"tenant": "acme", "grant_role": target})

test_admin_may_not_revoke_an_owner_credential if {
	d := revoke("admin", "owner")
	forbidden(d)
	d.reason == "admin may not revoke a owner credential"
	revoke("admin", "admin").allow
	revoke("admin", "viewer").allow
	revoke("owner", "owner").allow
	forbidden(revoke("viewer", "viewer"))
}

set_admin_allowlist(role, cidrs, force, ip) := decide_from(tenant_admin("acme", role), "tenant.admin_allowlist.update",
	{"tenant": "acme", "admin_allowlist": cidrs, "force": force}, ip)

test_admin_allowlist_is_the_owners if {
	forbidden(set_admin_allowlist("admin", ["192.0.2.0/24"], false, "192.0.2.1"))
	set_admin_allowlist("owner", ["192.0.2.0/24"], false, "192.0.2.1").allow
}

test_admin_allowlist_that_locks_the_caller_out_needs_force if {
	d := set_admin_allowlist("owner", ["198.51.100.0/24"], false, "192.0.2.1")
	forbidden(d)
	contains(d.reason, "lock out")
	set_admin_allowlist("owner", ["198.51.100.0/24"], true, "192.0.2.1").allow
	set_admin_allowlist("owner", [], false, "192.0.2.1").allow
	forbidden(set_admin_allowlist("owner", ["::/0"], false, "192.0.2.1"))
	forbidden(decide(tenant_admin("acme", "owner"), "tenant.admin_allowlist.update", {"tenant": "acme", "admin_allowlist": ["0.0.0.0/0"]}))
}
