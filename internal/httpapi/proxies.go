package httpapi

import (
	"context"
	"encoding/base64"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/proxyhub/proxyhub/api"
	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/policy"
)

func (h *handlers) registerProxies(api huma.API) {
	huma.Register(api, secured(huma.Operation{
		OperationID: "list-proxies", Method: http.MethodGet, Path: "/tenants/{tenant}/proxies", Tags: tagProxies,
		Summary:     "List proxies",
		Description: "A page of the tenant's proxies sorted by name, with status and name-prefix filters.",
		Errors:      []int{http.StatusUnprocessableEntity},
	}, access{policy.ProxyList, scopePath}), h.listProxies)
	huma.Register(api, secured(huma.Operation{
		OperationID: "get-proxy", Method: http.MethodGet, Path: "/tenants/{tenant}/proxies/{name}", Tags: tagProxies,
		Summary: "Get a proxy", Description: "One proxy with its liveness.",
	}, access{policy.ProxyRead, scopePath}), h.getProxy)
	huma.Register(api, secured(huma.Operation{
		OperationID: "delete-proxy", Method: http.MethodDelete, Path: "/tenants/{tenant}/proxies/{name}", Tags: tagProxies,
		Summary:     "Decommission a proxy",
		Description: "Removes the proxy; its IP-change history is kept. A later heartbeat registers it anew.",
	}, access{policy.ProxyDelete, scopePath}), h.deleteProxy)
	huma.Register(api, secured(huma.Operation{
		OperationID: "update-proxy", Method: http.MethodPatch, Path: "/tenants/{tenant}/proxies/{name}", Tags: tagProxies,
		Summary: "Pause, resume or set a proxy's timeout",
		Description: "paused=true puts a proxy in maintenance (no flips, no alerts) until paused=false; offline_after overrides the " +
			"tenant's timeout for this proxy (0 clears it).",
		Errors: []int{http.StatusUnprocessableEntity},
	}, access{policy.ProxyUpdate, scopePath}), h.updateProxy)
}

// ListProxiesInput selects a page of proxies.
type ListProxiesInput struct {
	TenantPath
	Status string `query:"status" enum:"online,offline" doc:"Only proxies in this state."`
	Prefix string `query:"prefix" maxLength:"100" doc:"Only names starting with this." example:"edge-"`
	Cursor string `query:"cursor" maxLength:"200" doc:"next_cursor of the previous page."`
	Limit  int    `query:"limit" minimum:"1" maximum:"1000" default:"100" doc:"Page size."`
}

// ProxyPageOutput wraps a page of proxies.
type ProxyPageOutput struct{ Body api.ProxyPage }

func (h *handlers) listProxies(ctx context.Context, in *ListProxiesInput) (*ProxyPageOutput, error) {
	after, err := base64.RawURLEncoding.DecodeString(in.Cursor)
	if err != nil {
		return nil, huma.Error422UnprocessableEntity("invalid cursor", &huma.ErrorDetail{Location: "query.cursor", Message: "not a cursor from a previous page"})
	}
	page, more, err := h.Hub.Proxies(ctx, in.Tenant, hub.ProxyFilter{Status: hub.Status(in.Status), NamePrefix: in.Prefix, After: string(after), Limit: in.Limit})
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	out := &ProxyPageOutput{Body: api.ProxyPage{Proxies: make([]api.Proxy, len(page))}}
	for i, p := range page {
		out.Body.Proxies[i] = proxyOut(p)
	}
	if more {
		out.Body.NextCursor = base64.RawURLEncoding.EncodeToString([]byte(page[len(page)-1].Name))
	}
	return out, nil
}

// ProxyPath addresses one proxy.
type ProxyPath struct {
	TenantPath
	Name string `path:"name" maxLength:"100" doc:"Proxy name." example:"edge-7"`
}

// ProxyOutput wraps one proxy.
type ProxyOutput struct{ Body api.Proxy }

func (h *handlers) getProxy(ctx context.Context, in *ProxyPath) (*ProxyOutput, error) {
	p, err := h.Hub.Proxy(ctx, in.Tenant, in.Name)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return &ProxyOutput{Body: proxyOut(p)}, nil
}

func (h *handlers) deleteProxy(ctx context.Context, in *ProxyPath) (*struct{}, error) {
	if err := h.Hub.Decommission(ctx, in.Tenant, in.Name); err != nil {
		return nil, h.problem(ctx, err)
	}
	return nil, nil
}

// UpdateProxyInput changes one proxy's liveness settings.
type UpdateProxyInput struct {
	ProxyPath
	Body api.ProxyUpdate
}

func (h *handlers) updateProxy(ctx context.Context, in *UpdateProxyInput) (*ProxyOutput, error) {
	p, err := h.Hub.UpdateProxy(ctx, in.Tenant, in.Name, hub.ProxyChange{Paused: in.Body.Paused, OfflineAfter: seconds(in.Body.OfflineAfter)})
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return &ProxyOutput{Body: proxyOut(p)}, nil
}
