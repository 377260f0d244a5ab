package api

// Event is one entry of a tenant's event stream.
type Event struct {
	ID    int64     `json:"id" doc:"Event id; increases with time. The SSE id and the cursor of the stream." example:"5012"`
	Type  EventType `json:"type" doc:"What happened." example:"offline"`
	Proxy string    `json:"proxy" doc:"Proxy name." example:"edge-7"`
	At    Time      `json:"at" doc:"When it happened; for offline, the moment the deadline passed (last heartbeat + timeout), not when a sweeper noticed."`
	OldIP string    `json:"old_ip,omitempty" doc:"ip_changed: the previous IP." example:"112.161.54.7"`
	NewIP string    `json:"new_ip,omitempty" doc:"The proxy's IP (registered, ip_changed, online, offline) or the refused IP (denied)." example:"112.161.54.8"`
	// InMaintenance flags what a maintenance window held back.
	InMaintenance bool `json:"in_maintenance,omitempty" doc:"A maintenance window covered this proxy then: the flip, return or IP change was recorded but not notified." example:"false"`
}

// EventPage is one page of events, newest first.
type EventPage struct {
	Events     []Event `json:"events" doc:"Events, newest first."`
	NextCursor string  `json:"next_cursor,omitempty" doc:"Pass as cursor for the next (older) page; absent on the last page."`
}

// ProxyUpdate changes one proxy's liveness settings; absent fields stay.
type ProxyUpdate struct {
	Paused       *bool `json:"paused,omitempty" doc:"Maintenance: a paused proxy never flips and raises no alerts, whatever its heartbeats do, until resumed (paused=false). Resuming gives it a full timeout from now." example:"true"`
	OfflineAfter *int  `json:"offline_after,omitempty" minimum:"0" maximum:"86400" doc:"This proxy's own offline timeout in seconds; 0 follows the tenant's again." example:"300"`
}
