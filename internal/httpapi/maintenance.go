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

func (h *handlers) registerMaintenance(api huma.API) {
	huma.Register(api, secured(huma.Operation{
		OperationID: "create-maintenance-window", Method: http.MethodPost, Path: "/tenants/{tenant}/maintenance-windows",
		DefaultStatus: http.StatusCreated, Tags: tagMaintenance,
		Summary: "Create a maintenance window",
		Description: "While a window is active, offline flips, returns and IP changes of the proxies it covers are recorded " +
			"(and flagged in_maintenance in the event list) but sent to no notification target. When an occurrence ends, " +
			"the proxies that went offline during it and still are get one offline alert. One-off: start and end; " +
			"recurring: cron, duration and time_zone.",
		Errors: []int{http.StatusUnprocessableEntity},
	}, access{policy.MaintenanceWrite, scopePath}), h.createWindow)
	huma.Register(api, secured(huma.Operation{
		OperationID: "list-maintenance-windows", Method: http.MethodGet, Path: "/tenants/{tenant}/maintenance-windows", Tags: tagMaintenance,
		Summary: "List maintenance windows", Description: "The tenant's windows, with whether each is active now.",
	}, access{policy.MaintenanceRead, scopePath}), h.listWindows)
	huma.Register(api, secured(huma.Operation{
		OperationID: "end-maintenance-window", Method: http.MethodPost, Path: "/tenants/{tenant}/maintenance-windows/{id}/end", Tags: tagMaintenance,
		Summary: "End a maintenance window now", Description: "No occurrence is active from now on; its follow-up alert is sent as at a normal end.",
	}, access{policy.MaintenanceWrite, scopePath}), h.endWindow)
	huma.Register(api, secured(huma.Operation{
		OperationID: "delete-maintenance-window", Method: http.MethodDelete, Path: "/tenants/{tenant}/maintenance-windows/{id}", Tags: tagMaintenance,
		Summary: "Delete a maintenance window", Description: "It holds nothing back from now on, and the event list no longer flags what it covered; end it instead to keep that.",
	}, access{policy.MaintenanceWrite, scopePath}), h.deleteWindow)
}

// WindowPath addresses one window.
type WindowPath struct {
	TenantPath
	ID string `path:"id" maxLength:"40" doc:"Window id." example:"mw_4Tq9ZbLc7XwPmN2r"`
}

// CreateWindowInput is a window's creation.
type CreateWindowInput struct {
	TenantPath
	Body api.MaintenanceWindowCreate
}

// WindowOutput wraps one window.
type WindowOutput struct{ Body api.MaintenanceWindow }

// WindowListOutput wraps a window list.
type WindowListOutput struct{ Body api.MaintenanceWindowList }

func (h *handlers) windowOut(w hub.MaintenanceWindow) api.MaintenanceWindow {
	out := api.MaintenanceWindow{ID: w.ID, Label: w.Label, Proxy: w.Proxy, Pattern: w.Pattern, Cron: w.Cron,
		Duration: int(w.Duration / time.Second), TimeZone: w.TimeZone, CreatedAt: api.NewTime(w.CreatedAt),
		Start: optTime(w.Start), End: optTime(w.End), EndedAt: optTime(w.EndedAt)}
	if _, end, ok := w.Occurrence(h.Clock()); ok {
		out.Active, out.ActiveUntil = true, optTime(end)
	}
	return out
}

func (h *handlers) createWindow(ctx context.Context, in *CreateWindowInput) (*WindowOutput, error) {
	b := in.Body
	nw := hub.NewWindow{Label: b.Label, Proxy: b.Proxy, Pattern: b.Pattern, Cron: b.Cron,
		Duration: time.Duration(b.Duration) * time.Second, TimeZone: b.TimeZone}
	if b.Start != nil {
		nw.Start = time.Time(*b.Start)
	}
	if b.End != nil {
		nw.End = time.Time(*b.End)
	}
	w, err := h.Hub.CreateWindow(ctx, in.Tenant, nw)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return &WindowOutput{Body: h.windowOut(w)}, nil
}

func (h *handlers) listWindows(ctx context.Context, in *TenantPath) (*WindowListOutput, error) {
	ws, err := h.Hub.Windows(ctx, in.Tenant)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	out := &WindowListOutput{Body: api.MaintenanceWindowList{Windows: make([]api.MaintenanceWindow, len(ws))}}
	for i, w := range ws {
		out.Body.Windows[i] = h.windowOut(w)
	}
	return out, nil
}

func (h *handlers) endWindow(ctx context.Context, in *WindowPath) (*WindowOutput, error) {
	w, err := h.Hub.EndWindow(ctx, in.Tenant, in.ID)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return &WindowOutput{Body: h.windowOut(w)}, nil
}

func (h *handlers) deleteWindow(ctx context.Context, in *WindowPath) (*struct{}, error) {
	if err := h.Hub.DeleteWindow(ctx, in.Tenant, in.ID); err != nil {
		return nil, h.problem(ctx, err)
	}
	return nil, nil
}
