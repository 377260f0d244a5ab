package api

// HeartbeatResult is the answer to a heartbeat. Its fields, names and JSON
// types are the seed hub's wire contract; previous_ip is added only when the
// IP changed.
type HeartbeatResult struct {
	Success    bool   `json:"success" doc:"Always true on a 200 answer." example:"true"`
	Name       string `json:"name" doc:"The proxy name as sent." example:"edge-7"`
	RemoteIP   string `json:"remote_ip" doc:"The caller's IP as the hub resolved it (socket peer, or X-Forwarded-For from a trusted proxy)." example:"203.0.113.7"`
	IPChanged  bool   `json:"ip_changed" doc:"True when this proxy's IP differs from its previous heartbeat." example:"false"`
	PreviousIP string `json:"previous_ip,omitempty" doc:"The IP of the previous heartbeat; present only when ip_changed is true." example:"203.0.113.6"`
	Timestamp  Time   `json:"timestamp" doc:"When the hub recorded the heartbeat."`
}

// ProxySummary is one proxy in a status report.
type ProxySummary struct {
	Name      string   `json:"name" doc:"Proxy name." example:"edge-7"`
	RemoteIP  string   `json:"remote_ip" doc:"IP of the latest heartbeat." example:"203.0.113.7"`
	Status    Liveness `json:"status" doc:"offline when the latest heartbeat is older than the offline timeout." example:"online"`
	LastSeen  Time     `json:"last_seen" doc:"Time of the latest heartbeat."`
	CreatedAt Time     `json:"created_at" doc:"Time of the first heartbeat."`
	IPChanges int64    `json:"ip_changes" doc:"How many times this proxy's IP has changed." example:"2"`
}

// StatusReport lists every proxy of the caller's tenant, sorted by name.
type StatusReport struct {
	Total     int            `json:"total" doc:"Number of proxies." example:"1"`
	Online    int            `json:"online" doc:"Number of online proxies." example:"1"`
	Offline   int            `json:"offline" doc:"Number of offline proxies." example:"0"`
	Proxies   []ProxySummary `json:"proxies" doc:"Proxies sorted by name."`
	Timestamp Time           `json:"timestamp" doc:"When the report was made."`
}

// Health is the body of /healthz and /readyz.
type Health struct {
	Status string `json:"status" enum:"ok,unavailable" doc:"ok when the check passed." example:"ok"`
	// RateLimits says how rate limits are kept (readyz only).
	RateLimits string `json:"rate_limits,omitempty" enum:"per-hub,shared,per-hub-redis-unreachable" doc:"readyz: per-hub (no Redis configured), shared (through Redis across hubs), or per-hub-redis-unreachable (Redis is configured but not answering: each hub limits on its own until it returns; the hub is still ready)." example:"shared"`
}
