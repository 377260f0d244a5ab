package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/proxyhub/proxyhub/api"
	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/policy"
)

func (h *handlers) registerWebhooks(a huma.API) {
	huma.Register(a, secured(huma.Operation{
		OperationID: "create-webhook", Method: http.MethodPost, Path: "/tenants/{tenant}/webhooks", DefaultStatus: http.StatusCreated, Tags: tagWebhooks,
		Summary: "Create a webhook",
		Description: "Notifications of the tenant's events: generic (signed JSON per Standard Webhooks: webhook-id, webhook-timestamp, " +
			"webhook-signature), slack (incoming webhook) or email. Delivery is at-least-once with exponential backoff for " +
			"more than 24 h; events that happen close together go out as one grouped message. The signing secret is in this answer only.",
		Errors: []int{http.StatusUnprocessableEntity},
	}, access{policy.WebhookWrite, scopePath}), h.createWebhook)
	huma.Register(a, secured(huma.Operation{
		OperationID: "list-webhooks", Method: http.MethodGet, Path: "/tenants/{tenant}/webhooks", Tags: tagWebhooks,
		Summary: "List webhooks", Description: "The tenant's webhooks, without secrets.",
	}, access{policy.WebhookRead, scopePath}), h.listWebhooks)
	huma.Register(a, secured(huma.Operation{
		OperationID: "get-webhook", Method: http.MethodGet, Path: "/tenants/{tenant}/webhooks/{id}", Tags: tagWebhooks,
		Summary: "Get a webhook", Description: "One webhook, without its secret.",
	}, access{policy.WebhookRead, scopePath}), h.getWebhook)
	huma.Register(a, secured(huma.Operation{
		OperationID: "update-webhook", Method: http.MethodPatch, Path: "/tenants/{tenant}/webhooks/{id}", Tags: tagWebhooks,
		Summary:     "Change a webhook",
		Description: "Changes the URL, the event types or the enabled flag; absent fields stay.",
		Errors:      []int{http.StatusUnprocessableEntity},
	}, access{policy.WebhookWrite, scopePath}), h.updateWebhook)
	huma.Register(a, secured(huma.Operation{
		OperationID: "delete-webhook", Method: http.MethodDelete, Path: "/tenants/{tenant}/webhooks/{id}", Tags: tagWebhooks,
		Summary: "Delete a webhook", Description: "Stops deliveries and removes the webhook with its delivery log.",
	}, access{policy.WebhookWrite, scopePath}), h.deleteWebhook)
	huma.Register(a, secured(huma.Operation{
		OperationID: "test-webhook", Method: http.MethodPost, Path: "/tenants/{tenant}/webhooks/{id}/test", Tags: tagWebhooks,
		Summary:     "Send a test message",
		Description: "Sends a test message now and answers the delivery attempt (status code or error).",
	}, access{policy.WebhookWrite, scopePath}), h.testWebhook)
	huma.Register(a, secured(huma.Operation{
		OperationID: "rotate-webhook-secret", Method: http.MethodPost, Path: "/tenants/{tenant}/webhooks/{id}/rotate-secret", Tags: tagWebhooks,
		Summary: "Rotate a webhook's signing secret",
		Description: "Gives a generic webhook a new signing secret, in this answer only. For grace_seconds (default one day, at most " +
			"seven, 0 for none) every delivery carries two signatures in webhook-signature, by the new and by the replaced secret, " +
			"so the receiver can switch keys without missing a message; previous_secret_until says when the old one stops.",
		Errors: []int{http.StatusUnprocessableEntity},
	}, access{policy.WebhookWrite, scopePath}), h.rotateWebhookSecret)
	huma.Register(a, secured(huma.Operation{
		OperationID: "list-deliveries", Method: http.MethodGet, Path: "/tenants/{tenant}/webhooks/{id}/deliveries", Tags: tagWebhooks,
		Summary:     "List delivery attempts",
		Description: "The webhook's delivery log, newest first: status code, error, attempt, time.",
		Errors:      []int{http.StatusUnprocessableEntity},
	}, access{policy.WebhookRead, scopePath}), h.listDeliveries)
}

func (h *handlers) webhookOut(w hub.Webhook) api.Webhook {
	out := api.Webhook{ID: w.ID, Kind: api.WebhookKind(w.Kind), URL: h.Hub.ShownWebhookURL(w), Events: []api.EventType{}, Enabled: w.Enabled,
		CreatedAt: api.NewTime(w.CreatedAt), UpdatedAt: api.NewTime(w.UpdatedAt), Failing: w.Attempt > 0, Settings: w.Settings}
	if w.Kind != "generic" {
		out.HasCredential = w.Secret != "" // generic webhooks' secret is a signing secret, not a credential
	}
	for _, e := range w.Events {
		out.Events = append(out.Events, api.EventType(e))
	}
	if w.Attempt > 0 {
		out.NextAttemptAt = optTime(w.NextAttemptAt)
	}
	if w.PreviousSecret != "" {
		out.PreviousSecretUntil = optTime(w.PreviousSecretUntil)
	}
	return out
}

// RotateWebhookSecretInput rotates a webhook's signing secret.
type RotateWebhookSecretInput struct {
	ItemPath
	GraceSeconds int `query:"grace_seconds" minimum:"0" maximum:"604800" default:"86400" doc:"How long the replaced secret keeps signing, in seconds."`
}

// WebhookSecretRotatedOutput wraps a webhook with its new secret.
type WebhookSecretRotatedOutput struct{ Body api.WebhookSecretRotated }

func (h *handlers) rotateWebhookSecret(ctx context.Context, in *RotateWebhookSecretInput) (*WebhookSecretRotatedOutput, error) {
	w, secret, err := h.Hub.RotateWebhookSecret(ctx, in.Tenant, in.ID, time.Duration(in.GraceSeconds)*time.Second)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return &WebhookSecretRotatedOutput{Body: api.WebhookSecretRotated{Webhook: h.webhookOut(w), Secret: secret}}, nil
}

func deliveryOut(d hub.Delivery) api.Delivery {
	return api.Delivery{ID: d.ID, At: api.NewTime(d.At), Attempt: d.Attempt, StatusCode: d.StatusCode, Error: d.Error,
		Events: d.Events, Test: d.Test, GaveUp: d.GaveUp, Response: d.Response}
}

// CreateWebhookInput creates a webhook.
type CreateWebhookInput struct {
	TenantPath
	Body api.WebhookCreate
}

// WebhookCreatedOutput wraps a new webhook.
type WebhookCreatedOutput struct{ Body api.WebhookCreated }

func (h *handlers) createWebhook(ctx context.Context, in *CreateWebhookInput) (*WebhookCreatedOutput, error) {
	w, err := h.Hub.CreateWebhook(ctx, in.Tenant, hub.NewWebhook{Kind: string(in.Body.Kind), URL: in.Body.URL, Events: eventNames(in.Body.Events),
		Enabled: in.Body.Enabled == nil || *in.Body.Enabled, Settings: in.Body.Settings, Credential: in.Body.Credential})
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	out := h.webhookOut(w)
	out.HasCredential = in.Body.Credential != "" // the hub never hands a credential back, even sealed
	return &WebhookCreatedOutput{Body: api.WebhookCreated{Webhook: out, Secret: w.Secret}}, nil
}

// WebhookListOutput wraps a webhook list.
type WebhookListOutput struct{ Body api.WebhookList }

func (h *handlers) listWebhooks(ctx context.Context, in *TenantPath) (*WebhookListOutput, error) {
	ws, err := h.Hub.Webhooks(ctx, in.Tenant)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	out := &WebhookListOutput{Body: api.WebhookList{Webhooks: make([]api.Webhook, len(ws))}}
	for i, w := range ws {
		out.Body.Webhooks[i] = h.webhookOut(w)
	}
	return out, nil
}

// WebhookOutput wraps one webhook.
type WebhookOutput struct{ Body api.Webhook }

func (h *handlers) getWebhook(ctx context.Context, in *ItemPath) (*WebhookOutput, error) {
	w, err := h.Hub.Webhook(ctx, in.Tenant, in.ID)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return &WebhookOutput{Body: h.webhookOut(w)}, nil
}

// UpdateWebhookInput changes a webhook.
type UpdateWebhookInput struct {
	ItemPath
	Body api.WebhookUpdate
}

func (h *handlers) updateWebhook(ctx context.Context, in *UpdateWebhookInput) (*WebhookOutput, error) {
	w, err := h.Hub.UpdateWebhook(ctx, in.Tenant, in.ID, hub.WebhookChange{URL: in.Body.URL, Events: eventNames(in.Body.Events), Enabled: in.Body.Enabled,
		Settings: in.Body.Settings, Credential: in.Body.Credential})
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return &WebhookOutput{Body: h.webhookOut(w)}, nil
}

func (h *handlers) deleteWebhook(ctx context.Context, in *ItemPath) (*struct{}, error) {
	if err := h.Hub.DeleteWebhook(ctx, in.Tenant, in.ID); err != nil {
		return nil, h.problem(ctx, err)
	}
	return nil, nil
}

// DeliveryOutput wraps one delivery attempt.
type DeliveryOutput struct{ Body api.Delivery }

func (h *handlers) testWebhook(ctx context.Context, in *ItemPath) (*DeliveryOutput, error) {
	d, err := h.Hub.TestWebhook(ctx, in.Tenant, in.ID)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return &DeliveryOutput{Body: deliveryOut(d)}, nil
}

// ListDeliveriesInput selects a page of a webhook's delivery log.
type ListDeliveriesInput struct {
	ItemPath
	Cursor string `query:"cursor" maxLength:"100" doc:"next_cursor of the previous page."`
	Limit  int    `query:"limit" minimum:"1" maximum:"1000" default:"100" doc:"Page size."`
}

// DeliveryListOutput wraps a page of deliveries.
type DeliveryListOutput struct{ Body api.DeliveryList }

func (h *handlers) listDeliveries(ctx context.Context, in *ListDeliveriesInput) (*DeliveryListOutput, error) {
	var before int64
	if in.Cursor != "" {
		var err error
		if before, err = decodeIDCursor(in.Cursor); err != nil {
			return nil, huma.Error422UnprocessableEntity("invalid cursor", &huma.ErrorDetail{Location: "query.cursor", Message: "not a cursor from a previous page"})
		}
	}
	ds, more, err := h.Hub.Deliveries(ctx, in.Tenant, in.ID, before, in.Limit)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	out := &DeliveryListOutput{Body: api.DeliveryList{Deliveries: make([]api.Delivery, len(ds))}}
	for i, d := range ds {
		out.Body.Deliveries[i] = deliveryOut(d)
	}
	if more {
		out.Body.NextCursor = encodeIDCursor(ds[len(ds)-1].ID)
	}
	return out, nil
}

// eventNames converts event types from a request body to the names the
// hub parses; nil stays nil (absent: unchanged, or all events).
func eventNames(ts []api.EventType) []string {
	if ts == nil {
		return nil
	}
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = string(t)
	}
	return out
}
