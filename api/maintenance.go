package api

// MaintenanceWindow is a time when notifications about some proxies are
// held back.
type MaintenanceWindow struct {
	ID       string `json:"id" doc:"Window id." example:"mw_4Tq9ZbLc7XwPmN2r"`
	Label    string `json:"label,omitempty" doc:"What the maintenance is." example:"kernel upgrades"`
	Proxy    string `json:"proxy,omitempty" doc:"The one proxy it covers." example:"edge-7"`
	Pattern  string `json:"pattern,omitempty" doc:"The proxies it covers, by name pattern (* ? [a-z]); with neither proxy nor pattern, every proxy of the tenant." example:"edge-*"`
	Start    *Time  `json:"start,omitempty" doc:"One-off window: when it starts."`
	End      *Time  `json:"end,omitempty" doc:"One-off window: when it ends."`
	Cron     string `json:"cron,omitempty" doc:"Recurring window: when each occurrence starts, five cron fields (minute hour day-of-month month day-of-week) in time_zone." example:"0 2 * * 6"`
	Duration int    `json:"duration,omitempty" doc:"Recurring window: how long each occurrence lasts, in seconds." example:"7200"`
	TimeZone string `json:"time_zone,omitempty" doc:"Recurring window: the IANA time zone of cron (default UTC)." example:"Europe/Berlin"`
	EndedAt  *Time  `json:"ended_at,omitempty" doc:"When it was ended early, if it was: no occurrence is active from then on."`
	Active   bool   `json:"active" doc:"An occurrence is running now." example:"false"`
	// ActiveUntil is the end of the running occurrence.
	ActiveUntil *Time `json:"active_until,omitempty" doc:"While active: when the running occurrence ends."`
	CreatedAt   Time  `json:"created_at" doc:"When it was created."`
}

// MaintenanceWindowCreate is the body of a window's creation: start and
// end, or cron and duration.
type MaintenanceWindowCreate struct {
	Label    string `json:"label,omitempty" maxLength:"100" doc:"What the maintenance is." example:"kernel upgrades"`
	Proxy    string `json:"proxy,omitempty" maxLength:"100" doc:"Cover this one proxy." example:"edge-7"`
	Pattern  string `json:"pattern,omitempty" maxLength:"100" doc:"Cover the proxies whose names match (* ? [a-z]); with neither proxy nor pattern, every proxy." example:"edge-*"`
	Start    *Time  `json:"start,omitempty" doc:"One-off: when it starts."`
	End      *Time  `json:"end,omitempty" doc:"One-off: when it ends (at most a year after start)."`
	Cron     string `json:"cron,omitempty" maxLength:"100" doc:"Recurring: five cron fields for each occurrence's start." example:"0 2 * * 6"`
	Duration int    `json:"duration,omitempty" minimum:"0" maximum:"604800" doc:"Recurring: each occurrence's length in seconds (at most 7 days)." example:"7200"`
	TimeZone string `json:"time_zone,omitempty" maxLength:"64" doc:"Recurring: the IANA time zone of cron (default UTC)." example:"Europe/Berlin"`
}

// MaintenanceWindowList is a tenant's windows.
type MaintenanceWindowList struct {
	Windows []MaintenanceWindow `json:"windows" doc:"Windows, oldest first."`
}
