package api

// Webhook is a notification target of a tenant. Its signing secret is
// shown only at creation.
type Webhook struct {
	ID            string            `json:"id" doc:"Webhook id." example:"wh_9Kq2ZbLc7XwPmN4r"`
	Kind          WebhookKind       `json:"kind" doc:"How it delivers." example:"generic"`
	URL           string            `json:"url,omitempty" doc:"Where to deliver: an http(s) URL, the server of a self-hosted service (matrix, ntfy, gotify), or mailto:address for email; absent for services with a fixed host. A chat service's webhook URL is a credential: only its scheme and host are shown." example:"https://ops.example.com/proxyhub"`
	Settings      map[string]string `json:"settings,omitempty" doc:"The kind's other settings: chat_id (telegram), room_id (matrix), region (opsgenie), topic (ntfy), user (pushover)." example:"{\"chat_id\":\"-1001234567890\"}"`
	HasCredential bool              `json:"has_credential,omitempty" doc:"A credential (bot token, routing key, API key, access token) is set; it is never shown." example:"true"`
	Events        []EventType       `json:"events" doc:"Event types delivered; empty means all." example:"[\"offline\",\"online\",\"ip_changed\"]"`
	Enabled       bool              `json:"enabled" doc:"Disabled webhooks receive nothing (and skip what happens meanwhile)." example:"true"`
	CreatedAt     Time              `json:"created_at" doc:"When it was created."`
	UpdatedAt     Time              `json:"updated_at" doc:"When it last changed."`
	Failing       bool              `json:"failing" doc:"The latest delivery attempt failed; retries continue with exponential backoff." example:"false"`
	NextAttemptAt *Time             `json:"next_attempt_at,omitempty" doc:"When the next retry is due, while failing."`
	// PreviousSecretUntil is the end of a rotation's grace period.
	PreviousSecretUntil *Time `json:"previous_secret_until,omitempty" doc:"generic webhooks after a rotation: until then deliveries carry a second signature, by the secret the rotation replaced."`
}

// WebhookCreate is the body of a webhook creation.
type WebhookCreate struct {
	Kind    WebhookKind `json:"kind" doc:"How it delivers." example:"generic"`
	URL     string      `json:"url,omitempty" maxLength:"2048" doc:"An http(s) URL: the webhook URL (generic, slack, discord, teams, googlechat, mattermost, rocketchat) or the server's base URL (matrix, ntfy, gotify); mailto:address (email); empty for telegram, pagerduty, opsgenie and pushover, whose hosts are fixed. Loopback, private, link-local and metadata addresses are refused at delivery unless the hub allows them." example:"https://ops.example.com/proxyhub"`
	Events  []EventType `json:"events,omitempty" maxItems:"5" doc:"Event types to deliver; empty means all." example:"[\"offline\",\"online\"]"`
	Enabled *bool       `json:"enabled,omitempty" doc:"Default true." example:"true"`
	// Settings are per kind; see Webhook.Settings.
	Settings map[string]string `json:"settings,omitempty" maxProperties:"5" doc:"telegram: chat_id; matrix: room_id; opsgenie: region (us or eu); ntfy: topic; pushover: user." example:"{\"chat_id\":\"-1001234567890\"}"`
	// Credential is write-only.
	Credential string `json:"credential,omitempty" maxLength:"512" writeOnly:"true" doc:"The kind's secret, never shown again: the bot token (telegram), access token (matrix, optional for ntfy), routing key (pagerduty), API key (opsgenie), application token (pushover, gotify)." example:"123456789:AAHk2ZbLc7XwPmN4rQ9sT1uV3wX5yZ7aB2c"`
}

// WebhookCreated is a new webhook with its signing secret, shown this once.
type WebhookCreated struct {
	Webhook
	Secret string `json:"secret,omitempty" doc:"generic webhooks: the Standard Webhooks signing secret (whsec_…). Shown only in this answer." example:"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"`
}

// WebhookSecretRotated is a webhook with its new signing secret, shown
// this once.
type WebhookSecretRotated struct {
	Webhook
	Secret string `json:"secret" doc:"The new Standard Webhooks signing secret (whsec_…). Shown only in this answer." example:"whsec_3nN1bVx0cQm5Yl8ZrT2uWkPq9sJd4HfA"`
}

// WebhookUpdate changes a webhook; absent fields stay.
type WebhookUpdate struct {
	URL     *string     `json:"url,omitempty" minLength:"1" maxLength:"2048" doc:"New target." example:"https://ops.example.com/proxyhub2"`
	Events  []EventType `json:"events,omitempty" maxItems:"5" doc:"New event types (replaces the list)." example:"[\"offline\"]"`
	Enabled *bool       `json:"enabled,omitempty" doc:"Enable or disable." example:"false"`
	// Settings replace the kind's settings, all of them.
	Settings map[string]string `json:"settings,omitempty" maxProperties:"5" doc:"New settings (replaces them all)." example:"{\"topic\":\"edge-alerts\"}"`
	// Credential replaces the kind's credential; write-only.
	Credential *string `json:"credential,omitempty" maxLength:"512" writeOnly:"true" doc:"A new credential, never shown again." example:"tk_AgQdq7mVBoFD37zQVN29RhuMzNIz2"`
}

// WebhookList is a tenant's webhooks.
type WebhookList struct {
	Webhooks []Webhook `json:"webhooks" doc:"Webhooks, oldest first."`
}

// Delivery is one attempt to deliver to a webhook.
type Delivery struct {
	ID         int64  `json:"id" doc:"Delivery id." example:"881"`
	At         Time   `json:"at" doc:"When the attempt was made."`
	Attempt    int    `json:"attempt" doc:"1 for the first try of a message, then 2, 3, …" example:"1"`
	StatusCode int    `json:"status_code,omitempty" doc:"The receiver's HTTP status, if it answered." example:"200"`
	Error      string `json:"error,omitempty" doc:"Why it failed, if it did." example:"receiver answered 500"`
	Events     int    `json:"events" doc:"Events the message carried." example:"3"`
	Test       bool   `json:"test,omitempty" doc:"Sent by the test operation."`
	GaveUp     bool   `json:"gave_up,omitempty" doc:"The message was skipped: retries were exhausted (more than 24 h), or the receiver refused it with a 4xx other than 408 and 429."`
	Response   string `json:"response,omitempty" doc:"test only: the start of the receiver's answer (200 characters), for public destinations." example:"ok"`
}

// DeliveryList is a page of a webhook's delivery log, newest first.
type DeliveryList struct {
	Deliveries []Delivery `json:"deliveries" doc:"Attempts, newest first."`
	NextCursor string     `json:"next_cursor,omitempty" doc:"Pass as cursor for older attempts."`
}
