# Tests of proxyhub.heartbeat. Run by internal/policy's Go tests (OPA's
# tester package), or with `opa test policies/`.
package proxyhub.heartbeat_test

import data.proxyhub.heartbeat

tenants := {
	"v4": {"allowlist": ["203.0.113.0/24"], "admin_allowlist": []},
	"v6": {"allowlist": ["2001:db8::/32", "2001:db9::7/128"], "admin_allowlist": []},
	"v6only": {"allowlist": ["::/0"], "admin_allowlist": []},
	"mapped": {"allowlist": ["::ffff:0:0/96"], "admin_allowlist": []},
	"v4all": {"allowlist": ["0.0.0.0/0"], "admin_allowlist": []},
	"mixed": {"allowlist": ["198.51.100.0/24", "2001:db8::/32"], "admin_allowlist": []},
	"open": {"allowlist": [], "admin_allowlist": ["192.0.2.0/24"]},
}

# decide evaluates the decision for tenant and ip, with the token's networks.
decide(tenant, ip, token_cidrs) := d if {
	d := heartbeat.decision with input as {
		"tenant_id": tenant,
		"token_id": "tok_1",
		"proxy": "proxy001",
		"token_cidrs": token_cidrs,
		"ip": ip,
	}
		with data.tenants as tenants
}

allowed(tenant, ip) if decide(tenant, ip, []).allow

reason(tenant, ip, token_cidrs) := decide(tenant, ip, token_cidrs).reason

# Empty lists and unknown tenants.

test_empty_allowlist_accepts_any_address if {
	allowed("open", "192.0.2.1")
	allowed("open", "8.8.8.8")
	allowed("open", "2001:db8::1")
	reason("open", "8.8.8.8", []) == "allowed"
}

test_unknown_tenant_accepts_any_address if {
	allowed("nobody", "8.8.8.8")
	allowed("nobody", "2001:db8::1")
}

test_no_tenant_data_at_all_accepts_any_address if {
	d := heartbeat.decision with input as {"tenant_id": "v4", "ip": "8.8.8.8"}
	d == {"allow": true, "reason": "allowed"}
}

test_heartbeat_allowlist_is_not_the_admin_allowlist if {
	# "open" restricts admin calls only.
	allowed("open", "203.0.113.9")
}

# IPv4 boundaries of 203.0.113.0/24.

test_ipv4_first_address_of_the_network if allowed("v4", "203.0.113.0")

test_ipv4_last_address_of_the_network if allowed("v4", "203.0.113.255")

test_ipv4_inside if allowed("v4", "203.0.113.77")

test_ipv4_just_after_the_network if {
	not allowed("v4", "203.0.114.0")
	reason("v4", "203.0.114.0", []) == "source_ip_not_allowed"
}

test_ipv4_just_before_the_network if {
	not allowed("v4", "203.0.112.255")
	reason("v4", "203.0.112.255", []) == "source_ip_not_allowed"
}

test_ipv6_address_against_an_ipv4_list if {
	not allowed("v4", "2001:db8::1")
	not allowed("v4", "::ffff:cb00:7101") # not folded: an IPv6 address
}

# IPv6: 2001:db8::/32 and 2001:db9::7/128.

test_ipv6_first_address_of_a_32 if allowed("v6", "2001:db8::")

test_ipv6_last_address_of_a_32 if allowed("v6", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")

test_ipv6_just_outside_a_32 if {
	not allowed("v6", "2001:db9::")
	not allowed("v6", "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff")
	reason("v6", "2001:db9::", []) == "source_ip_not_allowed"
}

test_ipv6_128_is_one_address if {
	allowed("v6", "2001:db9::7")
	not allowed("v6", "2001:db9::6")
	not allowed("v6", "2001:db9::8")
}

test_ipv6_outside if not allowed("v6", "2a00:1450::1")

# Families never mix.

test_ipv4_address_against_an_ipv6_only_list if {
	not allowed("v6", "203.0.113.1")
	not allowed("v6only", "203.0.113.1")
	not allowed("mapped", "203.0.113.1")
	reason("v6only", "203.0.113.1", []) == "source_ip_not_allowed"
}

test_ipv6_any_accepts_ipv6 if allowed("v6only", "2001:db8::1")

test_ipv4_any_accepts_only_ipv4 if {
	allowed("v4all", "8.8.8.8")
	not allowed("v4all", "2001:db8::1")
}

test_mixed_list_accepts_both_families if {
	allowed("mixed", "198.51.100.10")
	allowed("mixed", "2001:db8::10")
	not allowed("mixed", "198.51.101.10")
	not allowed("mixed", "2001:db9::10")
}

# Token networks narrow the tenant's allowlist.

test_token_cidrs_narrow_the_tenant_list if {
	decide("v4", "203.0.113.200", ["203.0.113.128/25"]).allow
	decide("v4", "203.0.113.128", ["203.0.113.128/25"]).allow
	not decide("v4", "203.0.113.127", ["203.0.113.128/25"]).allow
	reason("v4", "203.0.113.127", ["203.0.113.128/25"]) == "source_ip_not_allowed_for_token"
}

test_tenant_refusal_comes_first if {
	# Outside both: the tenant's reason wins.
	reason("v4", "8.8.8.8", ["203.0.113.128/25"]) == "source_ip_not_allowed"
}

test_token_cidrs_cannot_widen_the_tenant_list if {
	not decide("v4", "198.51.100.1", ["198.51.100.0/24"]).allow
	reason("v4", "198.51.100.1", ["198.51.100.0/24"]) == "source_ip_not_allowed"
}

test_token_cidrs_alone_restrict_an_open_tenant if {
	decide("open", "198.51.100.1", ["198.51.100.0/24"]).allow
	not decide("open", "198.51.100.1", ["2001:db8::/32"]).allow
	reason("open", "8.8.8.8", ["198.51.100.0/24", "2001:db8::/32"]) == "source_ip_not_allowed_for_token"
}

test_token_cidrs_of_both_families if {
	decide("open", "2001:db8::1", ["198.51.100.0/24", "2001:db8::/32"]).allow
	decide("open", "198.51.100.1", ["198.51.100.0/24", "2001:db8::/32"]).allow
}

test_empty_token_cidrs_restrict_nothing if decide("v4", "203.0.113.1", []).allow

test_absent_token_cidrs_restrict_nothing if {
	d := heartbeat.decision with input as {"tenant_id": "v4", "ip": "203.0.113.1"} with data.tenants as tenants
	d.allow
}

# Missing or malformed addresses are refused, even by an open tenant.

test_missing_ip_is_refused if {
	d := heartbeat.decision with input as {"tenant_id": "open"} with data.tenants as tenants
	d == {"allow": false, "reason": "source_ip_missing"}
}

test_empty_ip_is_refused if reason("open", "", []) == "source_ip_missing"

test_garbage_ip_is_refused if {
	reason("open", "not-an-ip", []) == "source_ip_missing"
	reason("open", "203.0.113.0/24", []) == "source_ip_missing"
}

test_no_input_is_refused if {
	not heartbeat.decision.allow with input as {}
}
