package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"slices"

	"github.com/danielgtaylor/huma/v2"

	"github.com/proxyhub/proxyhub/api"
	"github.com/proxyhub/proxyhub/internal/auth"
	"github.com/proxyhub/proxyhub/internal/authz"
	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/notify"
)

// WebhookTester sends a test message (notify.Dispatcher).
type WebhookTester interface {
	SendTest(ctx context.Context, w hub.Webhook) (hub.Delivery, error)
}

var tagWebhooks = []string{"webhooks"}

func (h *handlers) registerWebhooks(a huma.API) {
	huma.Register(a, created(op("create-webhook", http.MethodPost, "/v1/tenants/{tenant}/webhooks", "Create a webhook",
		"Notifications of the tenant's events: generic (signed JSON per Standard Webhooks: webhook-id, webhook-timestamp, "+
			"webhook-signature), slack (incoming webhook) or email. Delivery is at-least-once with exponential backoff for "+
			"more than 24 h; events that happen close together go out as one grouped message. The signing secret is in this answer only.",
		tagWebhooks, authz.WebhookWrite, scopePath, http.StatusUnprocessableEntity)), h.createWebhook)
	huma.Register(a, op("list-webhooks", http.MethodGet, "/v1/tenants/{tenant}/webhooks", "List webhooks",
		"The tenant's webhooks, without secrets.", tagWebhooks, authz.WebhookRead, scopePath), h.listWebhooks)
	huma.Register(a, op("get-webhook", http.MethodGet, "/v1/tenants/{tenant}/webhooks/{id}", "Get a webhook",
		"One webhook, without its secret.", tagWebhooks, authz.WebhookRead, scopePath), h.getWebhook)
	huma.Register(a, op("update-webhook", http.MethodPatch, "/v1/tenants/{tenant}/webhooks/{id}", "Change a webhook",
		"Changes the URL, the event types or the enabled flag; absent fields stay.", tagWebhooks, authz.WebhookWrite, scopePath,
		http.StatusUnprocessableEntity), h.updateWebhook)
	huma.Register(a, op("delete-webhook", http.MethodDelete, "/v1/tenants/{tenant}/webhooks/{id}", "Delete a webhook",
		"Stops deliveries and removes the webhook with its delivery log.", tagWebhooks, authz.WebhookWrite, scopePath), h.deleteWebhook)
	huma.Register(a, op("test-webhook", http.MethodPost, "/v1/tenants/{tenant}/webhooks/{id}/test", "Send a test message",
		"Sends a test message now and answers the delivery attempt (status code or error).", tagWebhooks, authz.WebhookWrite, scopePath), h.testWebhook)
	huma.Register(a, op("list-deliveries", http.MethodGet, "/v1/tenants/{tenant}/webhooks/{id}/deliveries", "List delivery attempts",
		"The webhook's delivery log, newest first: status code, error, attempt, time.", tagWebhooks, authz.WebhookRead, scopePath,
		http.StatusUnprocessableEntity), h.listDeliveries)
}

func webhookOut(w hub.Webhook) api.Webhook {
	out := api.Webhook{ID: w.ID, Kind: w.Kind, URL: w.URL, Events: []string{}, Enabled: w.Enabled,
		CreatedAt: api.NewTime(w.CreatedAt), UpdatedAt: api.NewTime(w.UpdatedAt), Failing: w.Attempt > 0}
	for _, e := range w.Events {
		out.Events = append(out.Events, string(e))
	}
	if w.Attempt > 0 {
		out.NextAttemptAt = optTime(w.NextAttemptAt)
	}
	return out
}

func deliveryOut(d hub.Delivery) api.Delivery {
	return api.Delivery{ID: d.ID, At: api.NewTime(d.At), Attempt: d.Attempt, StatusCode: d.StatusCode, Error: d.Error,
		Events: d.Events, Test: d.Test, GaveUp: d.GaveUp}
}

// eventTypes validates a list of event type names.
func eventTypes(field string, in []string) ([]hub.EventType, error) {
	var out []hub.EventType
	for i, t := range in {
		et := hub.EventType(t)
		switch et {
		case hub.EventRegistered, hub.EventIPChanged, hub.EventOffline, hub.EventOnline, hub.EventDenied:
		default:
			return nil, huma.Error422UnprocessableEntity("invalid event type", &huma.ErrorDetail{Location: fmt.Sprintf("%s[%d]", field, i),
				Message: "registered, ip_changed, offline, online or denied", Value: t})
		}
		if !slices.Contains(out, et) {
			out = append(out, et)
		}
	}
	return out, nil
}

func invalidURL(err error) error {
	return huma.Error422UnprocessableEntity("invalid url", &huma.ErrorDetail{Location: "body.url", Message: err.Error()})
}

// CreateWebhookInput creates a webhook.
type CreateWebhookInput struct {
	TenantPath
	Body api.WebhookCreate
}

// WebhookCreatedOutput wraps a new webhook.
type WebhookCreatedOutput struct{ Body api.WebhookCreated }

func (h *handlers) createWebhook(ctx context.Context, in *CreateWebhookInput) (*WebhookCreatedOutput, error) {
	if err := notify.ValidateURL(in.Body.Kind, in.Body.URL); err != nil {
		return nil, invalidURL(err)
	}
	types, err := eventTypes("body.events", in.Body.Events)
	if err != nil {
		return nil, err
	}
	if _, err := h.Store.GetTenant(ctx, in.Tenant); err != nil {
		return nil, h.problem(ctx, err)
	}
	now := h.Hub.Now()
	w := hub.Webhook{ID: auth.NewID("wh_"), TenantID: in.Tenant, Kind: in.Body.Kind, URL: in.Body.URL, Events: types,
		Enabled: in.Body.Enabled == nil || *in.Body.Enabled, CreatedAt: now, UpdatedAt: now}
	if w.Kind == notify.KindGeneric {
		if w.Secret, err = notify.NewSecret(); err != nil {
			return nil, h.problem(ctx, err)
		}
	}
	w, err = h.Store.CreateWebhook(ctx, w)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return &WebhookCreatedOutput{Body: api.WebhookCreated{Webhook: webhookOut(w), Secret: w.Secret}}, nil
}

// WebhookListOutput wraps a webhook list.
type WebhookListOutput struct{ Body api.WebhookList }

func (h *handlers) listWebhooks(ctx context.Context, in *TenantPath) (*WebhookListOutput, error) {
	ws, err := h.Store.ListWebhooks(ctx, in.Tenant)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	out := &WebhookListOutput{Body: api.WebhookList{Webhooks: make([]api.Webhook, len(ws))}}
	for i, w := range ws {
		out.Body.Webhooks[i] = webhookOut(w)
	}
	return out, nil
}

// WebhookOutput wraps one webhook.
type WebhookOutput struct{ Body api.Webhook }

func (h *handlers) getWebhook(ctx context.Context, in *ItemPath) (*WebhookOutput, error) {
	w, err := h.Store.GetWebhook(ctx, in.Tenant, in.ID)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return &WebhookOutput{Body: webhookOut(w)}, nil
}

// UpdateWebhookInput changes a webhook.
type UpdateWebhookInput struct {
	ItemPath
	Body api.WebhookUpdate
}

func (h *handlers) updateWebhook(ctx context.Context, in *UpdateWebhookInput) (*WebhookOutput, error) {
	w, err := h.Store.GetWebhook(ctx, in.Tenant, in.ID)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	if in.Body.URL != nil {
		if err := notify.ValidateURL(w.Kind, *in.Body.URL); err != nil {
			return nil, invalidURL(err)
		}
		w.URL = *in.Body.URL
	}
	if in.Body.Events != nil {
		if w.Events, err = eventTypes("body.events", in.Body.Events); err != nil {
			return nil, err
		}
	}
	if in.Body.Enabled != nil {
		w.Enabled = *in.Body.Enabled
	}
	w.UpdatedAt = h.Hub.Now()
	if w, err = h.Store.UpdateWebhook(ctx, w); err != nil {
		return nil, h.problem(ctx, err)
	}
	return &WebhookOutput{Body: webhookOut(w)}, nil
}

func (h *handlers) deleteWebhook(ctx context.Context, in *ItemPath) (*struct{}, error) {
	if err := h.Store.DeleteWebhook(ctx, in.Tenant, in.ID); err != nil {
		return nil, h.problem(ctx, err)
	}
	return nil, nil
}

// DeliveryOutput wraps one delivery attempt.
type DeliveryOutput struct{ Body api.Delivery }

func (h *handlers) testWebhook(ctx context.Context, in *ItemPath) (*DeliveryOutput, error) {
	w, err := h.Store.GetWebhook(ctx, in.Tenant, in.ID)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	d, err := h.Tester.SendTest(ctx, w)
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
	ds, err := h.Store.ListDeliveries(ctx, in.Tenant, in.ID, before, in.Limit+1)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	out := &DeliveryListOutput{Body: api.DeliveryList{Deliveries: []api.Delivery{}}}
	for i, d := range ds {
		if i == in.Limit {
			out.Body.NextCursor = encodeIDCursor(ds[i-1].ID)
			break
		}
		out.Body.Deliveries = append(out.Body.Deliveries, deliveryOut(d))
	}
	return out, nil
}
