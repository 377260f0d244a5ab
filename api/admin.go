package api

// Tenant is a team sharing the hub, with its settings.
type Tenant struct {
	ID           string `json:"id" doc:"Tenant id (slug)." example:"acme"`
	Name         string `json:"name" doc:"Display name." example:"Acme Corp"`
	OfflineAfter int    `json:"offline_after" doc:"Seconds of silence after which a proxy is offline." example:"80"`
	MaxProxies   int    `json:"max_proxies" doc:"Most proxies the tenant may have; new names beyond it are refused." example:"10000"`
	AutoRegister bool   `json:"auto_register" doc:"Whether heartbeat tokens not bound to a name may register new proxy names." example:"true"`
	CreatedAt    Time   `json:"created_at" doc:"When the tenant was created."`
	UpdatedAt    Time   `json:"updated_at" doc:"When its settings last changed."`
}

// TenantCreate is the body of a tenant creation.
type TenantCreate struct {
	ID           string `json:"id" minLength:"2" maxLength:"40" pattern:"^[a-z0-9-]+$" doc:"Tenant id: 2-40 lowercase letters, digits and '-'." example:"acme"`
	Name         string `json:"name,omitempty" maxLength:"200" doc:"Display name; defaults to the id." example:"Acme Corp"`
	OfflineAfter *int   `json:"offline_after,omitempty" minimum:"1" maximum:"86400" doc:"Seconds of silence after which a proxy is offline (default 80)." example:"80"`
	MaxProxies   *int   `json:"max_proxies,omitempty" minimum:"1" maximum:"10000000" doc:"Most proxies the tenant may have (default 10000)." example:"10000"`
	AutoRegister *bool  `json:"auto_register,omitempty" doc:"Whether unbound tokens may register new names (default true)." example:"true"`
}

// TenantUpdate is the body of a tenant settings change; absent fields are
// left as they are.
type TenantUpdate struct {
	Name         *string `json:"name,omitempty" minLength:"1" maxLength:"200" doc:"Display name." example:"Acme Corp"`
	OfflineAfter *int    `json:"offline_after,omitempty" minimum:"1" maximum:"86400" doc:"Seconds of silence after which a proxy is offline." example:"120"`
	MaxProxies   *int    `json:"max_proxies,omitempty" minimum:"1" maximum:"10000000" doc:"Most proxies the tenant may have." example:"500"`
	AutoRegister *bool   `json:"auto_register,omitempty" doc:"Whether unbound tokens may register new names." example:"false"`
}

// TenantList is the list of all tenants.
type TenantList struct {
	Tenants []Tenant `json:"tenants" doc:"Every tenant, sorted by id."`
}

// Token describes a heartbeat token; the secret is never shown again.
type Token struct {
	ID           string   `json:"id" doc:"Token id (not a secret)." example:"tok_7Hq2ZbKc9XwLmN4p"`
	Label        string   `json:"label" doc:"What the token is for." example:"edge fleet cron"`
	Proxy        string   `json:"proxy,omitempty" doc:"The only proxy name this token may heartbeat, if bound." example:"edge-7"`
	AllowedCIDRs []string `json:"allowed_cidrs,omitempty" doc:"Source networks the token may be used from, if restricted." example:"[\"203.0.113.0/24\"]"`
	ExpiresAt    *Time    `json:"expires_at,omitempty" doc:"When the token stops working, if it expires."`
	CreatedAt    Time     `json:"created_at" doc:"When it was created."`
	LastUsedAt   *Time    `json:"last_used_at,omitempty" doc:"Its latest heartbeat, if any."`
	RevokedAt    *Time    `json:"revoked_at,omitempty" doc:"When it was revoked, if it was."`
}

// TokenCreate is the body of a token creation.
type TokenCreate struct {
	Label        string   `json:"label" minLength:"1" maxLength:"100" doc:"What the token is for." example:"edge fleet cron"`
	Proxy        string   `json:"proxy,omitempty" maxLength:"100" pattern:"^[A-Za-z0-9][A-Za-z0-9._-]*$" doc:"Bind the token to this one proxy name." example:"edge-7"`
	ExpiresAt    *Time    `json:"expires_at,omitempty" doc:"When the token should stop working."`
	AllowedCIDRs []string `json:"allowed_cidrs,omitempty" maxItems:"1000" doc:"Source networks the token may be used from (IPv4/IPv6 CIDRs)." example:"[\"203.0.113.0/24\"]"`
}

// TokenCreated is a new token with its secret, shown this once.
type TokenCreated struct {
	Token
	Secret string `json:"token" doc:"The bearer token for cron curl. Shown only in this answer; store it now." example:"phb_Zk3n9QpX2vLmR7tYw4bH8cJ1dF6gS0aE5uN2oP"`
}

// TokenList is a tenant's tokens, revoked ones included.
type TokenList struct {
	Tokens []Token `json:"tokens" doc:"Tokens, oldest first."`
}

// Credential describes an admin API client; the secret is never shown again.
type Credential struct {
	ClientID   string `json:"client_id" doc:"OAuth2 client id." example:"phc_4fG7hJ2kL9mN3pQ8"`
	Role       Role   `json:"role" doc:"Role of the access tokens it obtains." example:"viewer"`
	Label      string `json:"label" doc:"What the credential is for." example:"SIEM export"`
	CreatedAt  Time   `json:"created_at" doc:"When it was created."`
	LastUsedAt *Time  `json:"last_used_at,omitempty" doc:"Its latest token exchange, if any."`
	RevokedAt  *Time  `json:"revoked_at,omitempty" doc:"When it was revoked, if it was."`
}

// CredentialCreate is the body of a credential creation.
type CredentialCreate struct {
	Role  Role   `json:"role" doc:"Role of the access tokens it obtains; at most the caller's own." example:"viewer"`
	Label string `json:"label" minLength:"1" maxLength:"100" doc:"What the credential is for." example:"SIEM export"`
}

// CredentialCreated is a new credential with its secret, shown this once.
type CredentialCreated struct {
	Credential
	ClientSecret string `json:"client_secret" doc:"Shown only in this answer; store it now." example:"phs_Qw8eR4tY7uI2oP5aS9dF3gH6jK1lZ0xC4vB7nM"`
}

// CredentialList is a tenant's admin credentials.
type CredentialList struct {
	Credentials []Credential `json:"credentials" doc:"Credentials, oldest first."`
}

// Proxy is one proxy with its liveness.
type Proxy struct {
	ProxySummary
	PeerIP       string `json:"peer_ip" doc:"The raw socket peer of the latest heartbeat (the load balancer when behind one)." example:"10.0.0.5"`
	Paused       bool   `json:"paused" doc:"In maintenance: no flips, no alerts." example:"false"`
	OfflineAfter int    `json:"offline_after" doc:"The timeout in seconds that applies to this proxy (its own, or its tenant's)." example:"80"`
	Deadline     Time   `json:"deadline" doc:"When it goes offline without another heartbeat."`
}

// ProxyPage is one page of a tenant's proxies.
type ProxyPage struct {
	Proxies    []Proxy `json:"proxies" doc:"Proxies sorted by name."`
	NextCursor string  `json:"next_cursor,omitempty" doc:"Pass as cursor to get the next page; absent on the last page."`
}

// AccessToken is the answer of the OAuth2 client credentials exchange
// (RFC 6749 section 5.1).
type AccessToken struct {
	AccessToken string `json:"access_token" doc:"A JWT for the Authorization: Bearer header."`
	TokenType   string `json:"token_type" enum:"Bearer" doc:"Always Bearer." example:"Bearer"`
	ExpiresIn   int    `json:"expires_in" doc:"Lifetime in seconds." example:"900"`
}

// Allowlists are the networks a tenant's heartbeats and admin calls must
// come from. An empty list accepts any address.
type Allowlists struct {
	CIDRs      []string `json:"cidrs" maxItems:"1000" doc:"Networks heartbeats must come from (IPv4 and IPv6 CIDRs, no host bits). Empty: any address." example:"[\"203.0.113.0/24\",\"2001:db8::/32\"]"`
	AdminCIDRs []string `json:"admin_cidrs,omitempty" maxItems:"1000" doc:"Networks the tenant's admins (JWT callers) must call from. Empty or absent: any address." example:"[\"198.51.100.0/24\"]"`
}
