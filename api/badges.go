package api

// Badge describes a status badge; its key is never shown again.
type Badge struct {
	ID        string `json:"id" doc:"Badge id (not a secret)." example:"bdg_7Hq2ZbKc9XwLmN4p"`
	Label     string `json:"label" doc:"The text on the badge's left side." example:"edge fleet"`
	Proxy     string `json:"proxy,omitempty" doc:"The one proxy the badge shows; absent: the whole tenant." example:"edge-7"`
	CreatedAt Time   `json:"created_at" doc:"When it was created."`
	RevokedAt *Time  `json:"revoked_at,omitempty" doc:"When it was revoked, if it was: its URLs answer 404."`
}

// BadgeCreate is the body of a badge creation.
type BadgeCreate struct {
	Label string `json:"label,omitempty" maxLength:"100" doc:"The text on the badge's left side (default: proxies, or status for one proxy)." example:"edge fleet"`
	Proxy string `json:"proxy,omitempty" maxLength:"100" pattern:"^[A-Za-z0-9][A-Za-z0-9._-]*$" doc:"Show this one proxy instead of the whole tenant." example:"edge-7"`
}

// BadgeCreated is a new badge with its key and URLs: shown only in this
// answer.
type BadgeCreated struct {
	Badge
	Key      string `json:"key" doc:"The badge's secret key: whoever has it sees the status word, nothing else. Shown only in this answer." example:"phk_Zk3n9QpX2vLmR7tYw4bH8cJ1dF6gS0aE5uN2oP"`
	SVGPath  string `json:"svg_path" doc:"Path of the SVG image on this hub." example:"/badge/phk_Zk3n9QpX2vLmR7tYw4bH8cJ1dF6gS0aE5uN2oP.svg"`
	JSONPath string `json:"json_path" doc:"Path of the shields.io endpoint JSON on this hub (https://shields.io/badges/endpoint-badge)." example:"/badge/phk_Zk3n9QpX2vLmR7tYw4bH8cJ1dF6gS0aE5uN2oP.json"`
}

// BadgeList is a tenant's badges.
type BadgeList struct {
	Badges []Badge `json:"badges" doc:"Badges, oldest first."`
}

// ShieldsEndpoint is the shields.io endpoint-badge format a badge's .json
// URL answers.
type ShieldsEndpoint struct {
	SchemaVersion int    `json:"schemaVersion"`
	Label         string `json:"label"`
	Message       string `json:"message"`
	Color         string `json:"color"`
	CacheSeconds  int    `json:"cacheSeconds,omitempty"`
}
