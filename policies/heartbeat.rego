# proxyhub.heartbeat decides whether a heartbeat is accepted from its source
# address. internal/policy evaluates data.proxyhub.heartbeat.decision for every
# heartbeat (caching the answer until tenant data changes).
#
# input:
#   tenant_id    string    the tenant of the heartbeat token
#   token_id     string    the token's id
#   proxy        string    the proxy name being heartbeated
#   token_cidrs  [string]  the token's own source networks; empty or absent: any
#   ip           string    the resolved client IP, IPv4-mapped IPv6 already
#                          folded to IPv4; "" when unknown
#
# data:
#   tenants[id].allowlist  [string]  the tenant's heartbeat networks; empty,
#                                    absent or unknown tenant: any address
#
# decision: {"allow": bool, "reason": string}; reason is one of
#   "allowed"
#   "source_ip_missing"                input.ip absent or not an address
#   "source_ip_not_allowed"            outside the tenant's allowlist
#   "source_ip_not_allowed_for_token"  inside the tenant's allowlist, outside
#                                      the token's own networks
# The default, a refusal ("default_deny"), only answers should a rule below
# become undefined.
package proxyhub.heartbeat

default decision := {"allow": false, "reason": "default_deny"}

# The first refusal that applies decides; an address that passes all three
# checks is allowed.
decision := deny("source_ip_missing") if {
	not valid_ip
} else := deny("source_ip_not_allowed") if {
	not tenant_allows
} else := deny("source_ip_not_allowed_for_token") if {
	not token_allows
} else := {"allow": true, "reason": "allowed"}

deny(reason) := {"allow": false, "reason": reason}

# valid_ip holds when input.ip is one IPv4 or IPv6 address (not a network).
valid_ip if {
	is_string(input.ip)
	not contains(input.ip, "/")
	net.cidr_contains("0.0.0.0/0", input.ip)
}

valid_ip if {
	is_string(input.ip)
	not contains(input.ip, "/")
	net.cidr_contains("::/0", input.ip)
}

# ip_is_v6 is the family of input.ip. A network only matches an address of
# its own family: an IPv4 address never matches an IPv6 network (not even
# ::ffff:0:0/96 or ::/0), an IPv6 address never matches an IPv4 network (not
# even 0.0.0.0/0).
ip_is_v6 := contains(input.ip, ":")

default tenant_allowlist := []

tenant_allowlist := data.tenants[input.tenant_id].allowlist

tenant_allows if count(tenant_allowlist) == 0

tenant_allows if {
	some cidr in tenant_allowlist
	contains(cidr, ":") == ip_is_v6
	net.cidr_contains(cidr, input.ip)
}

default token_cidrs := []

token_cidrs := input.token_cidrs

token_allows if count(token_cidrs) == 0

token_allows if {
	some cidr in token_cidrs
	contains(cidr, ":") == ip_is_v6
	net.cidr_contains(cidr, input.ip)
}
