package api

// IPChange is one audit record of a proxy's IP changing.
type IPChange struct {
	ID        int64  `json:"id" doc:"Record id; increases with time." example:"1042"`
	Proxy     string `json:"proxy" doc:"Proxy name." example:"edge-7"`
	OldIP     string `json:"old_ip" doc:"The IP before the change." example:"112.161.54.7"`
	NewIP     string `json:"new_ip" doc:"The IP after the change." example:"112.161.54.8"`
	At        Time   `json:"at" doc:"When the hub recorded the change."`
	TokenID   string `json:"token_id,omitempty" doc:"The heartbeat token that reported it." example:"tok_7Hq2ZbKc9XwLmN4p"`
	RequestID string `json:"request_id,omitempty" doc:"The request id of the heartbeat (X-Request-Id)." example:"9f2c1e7a5b3d"`
	// InMaintenance flags a change a maintenance window held back.
	InMaintenance bool `json:"in_maintenance,omitempty" doc:"A maintenance window covered this proxy then: the change was recorded but not notified (JSON and NDJSON only)." example:"false"`
}

// IPChangePage is one page of IP-change history, newest first.
type IPChangePage struct {
	IPChanges  []IPChange `json:"ip_changes" doc:"Records, newest first."`
	NextCursor string     `json:"next_cursor,omitempty" doc:"Pass as cursor for the next (older) page; absent on the last page."`
}

// Denied is the audit record of a heartbeat refused by policy.
type Denied struct {
	ID        int64  `json:"id" doc:"Record id; increases with time." example:"77"`
	Proxy     string `json:"proxy" doc:"The proxy name the heartbeat was for." example:"edge-7"`
	IP        string `json:"ip" doc:"The source IP that was refused." example:"198.51.100.23"`
	At        Time   `json:"at" doc:"When it was refused."`
	TokenID   string `json:"token_id,omitempty" doc:"The token that was used." example:"tok_7Hq2ZbKc9XwLmN4p"`
	RequestID string `json:"request_id,omitempty" doc:"The request id."`
	Reason    string `json:"reason" doc:"Which rule refused it." example:"source_ip_not_allowed"`
}

// DeniedPage is one page of denied heartbeats, newest first.
type DeniedPage struct {
	Denied     []Denied `json:"denied" doc:"Records, newest first."`
	NextCursor string   `json:"next_cursor,omitempty" doc:"Pass as cursor for the next (older) page; absent on the last page."`
}

// ProxyIPChangeStats summarises one proxy's IP changes in a window.
type ProxyIPChangeStats struct {
	Proxy       string `json:"proxy" doc:"Proxy name." example:"edge-7"`
	Changes     int64  `json:"changes" doc:"IP changes in the window." example:"12"`
	DistinctIPs int64  `json:"distinct_ips" doc:"Distinct new IPs in the window." example:"9"`
	LastChange  Time   `json:"last_change" doc:"The latest change in the window."`
}

// IPChangeStats is the IP-change statistics of a tenant in a window.
type IPChangeStats struct {
	Since          *Time                `json:"since,omitempty" doc:"Start of the window (inclusive), if bounded."`
	Until          *Time                `json:"until,omitempty" doc:"End of the window (exclusive), if bounded."`
	TotalChanges   int64                `json:"total_changes" doc:"IP changes in the window, all proxies." example:"40"`
	ProxiesChanged int                  `json:"proxies_changed" doc:"Proxies with at least one change in the window." example:"6"`
	Proxies        []ProxyIPChangeStats `json:"proxies" doc:"Per proxy, sorted by name."`
}
