package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/proxyhub/proxyhub/api"
	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/policy"
)

// AuditFilters are the filters shared by the audit listings.
type AuditFilters struct {
	IP     string    `query:"ip" maxLength:"45" doc:"Only records where this address is the old or new (or refused) IP." example:"112.161.54.7"`
	Since  time.Time `query:"since" doc:"Only records at or after this time (RFC 3339)."`
	Until  time.Time `query:"until" doc:"Only records before this time (RFC 3339)."`
	Cursor string    `query:"cursor" maxLength:"100" doc:"next_cursor of the previous page."`
	Limit  int       `query:"limit" minimum:"1" maximum:"1000" default:"100" doc:"Page size (json only; csv and ndjson stream the whole selection)."`
	Format string    `query:"format" enum:"json,csv,ndjson" default:"json" doc:"json pages; csv and ndjson stream every matching record, for spreadsheets and SIEMs."`
}

// query converts the filters to a store query.
func (f AuditFilters) query(proxy string) (hub.AuditQuery, error) {
	q := hub.AuditQuery{Proxy: proxy, Since: f.Since, Until: f.Until}
	if f.IP != "" {
		ip, err := netip.ParseAddr(f.IP)
		if err != nil || ip.Zone() != "" {
			return q, huma.Error422UnprocessableEntity("invalid ip", &huma.ErrorDetail{Location: "query.ip", Message: "an IPv4 or IPv6 address", Value: f.IP})
		}
		q.IP = ip.Unmap()
	}
	if f.Cursor != "" {
		id, err := decodeIDCursor(f.Cursor)
		if err != nil {
			return q, huma.Error422UnprocessableEntity("invalid cursor", &huma.ErrorDetail{Location: "query.cursor", Message: "not a cursor from a previous page"})
		}
		q.BeforeID = id
	}
	if f.Format == "json" || f.Format == "" {
		q.Limit = f.Limit + 1 // one more tells whether a next page exists
	}
	return q, nil
}

func encodeIDCursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("id:" + strconv.FormatInt(id, 10)))
}

func decodeIDCursor(c string) (int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) < 4 || string(b[:3]) != "id:" {
		return 0, strconv.ErrSyntax
	}
	id, err := strconv.ParseInt(string(b[3:]), 10, 64)
	if err != nil || id <= 0 {
		return 0, strconv.ErrSyntax
	}
	return id, nil
}

// IPChangesInput selects a tenant's IP-change history.
type IPChangesInput struct {
	TenantPath
	Proxy string `query:"proxy" maxLength:"100" doc:"Only this proxy." example:"edge-7"`
	AuditFilters
}

// ProxyIPChangesInput selects one proxy's IP-change history.
type ProxyIPChangesInput struct {
	ProxyPath
	AuditFilters
}

// DeniedInput selects a tenant's denied heartbeats.
type DeniedInput struct {
	TenantPath
	Proxy string `query:"proxy" maxLength:"100" doc:"Only this proxy." example:"edge-7"`
	AuditFilters
}

// auditResponses declares the three formats of an audit listing.
func auditResponses(pageSchema string) map[string]*huma.Response {
	return map[string]*huma.Response{"200": {
		Description: "json: one page, newest first; csv or ndjson: every matching record, newest first, streamed.",
		Content: map[string]*huma.MediaType{
			"application/json":     {Schema: &huma.Schema{Ref: "#/components/schemas/" + pageSchema}},
			"text/csv":             {Schema: &huma.Schema{Type: huma.TypeString}},
			"application/x-ndjson": {Schema: &huma.Schema{Type: huma.TypeString}},
		},
	}}
}

func (h *handlers) registerAudit(a huma.API) {
	reg := a.OpenAPI().Components.Schemas
	reg.Schema(reflectType[api.IPChangePage](), true, "")
	reg.Schema(reflectType[api.DeniedPage](), true, "")

	o := secured(huma.Operation{
		OperationID: "list-ip-changes", Method: http.MethodGet, Path: "/tenants/{tenant}/ip-changes", Tags: tagAudit,
		Summary: "List IP changes",
		Description: "The tenant's IP-change audit history, newest first, with keyset pagination. Filters: proxy, ip (old or new " +
			"address), since/until. format=csv or format=ndjson streams the whole selection.",
		Errors: []int{http.StatusUnprocessableEntity}, Responses: auditResponses("IPChangePage"),
	}, access{policy.AuditRead, scopePath})
	huma.Register(a, o, func(ctx context.Context, in *IPChangesInput) (*huma.StreamResponse, error) {
		return h.ipChanges(ctx, in.Tenant, in.Proxy, in.AuditFilters)
	})

	o = secured(huma.Operation{
		OperationID: "list-proxy-ip-changes", Method: http.MethodGet, Path: "/tenants/{tenant}/proxies/{name}/ip-changes", Tags: tagAudit,
		Summary: "List one proxy's IP changes",
		Description: "One proxy's IP-change history, newest first; the same filters and formats as list-ip-changes. The history " +
			"outlives a decommissioned proxy.",
		Errors: []int{http.StatusUnprocessableEntity}, Responses: auditResponses("IPChangePage"),
	}, access{policy.AuditRead, scopePath})
	huma.Register(a, o, func(ctx context.Context, in *ProxyIPChangesInput) (*huma.StreamResponse, error) {
		return h.ipChanges(ctx, in.Tenant, in.Name, in.AuditFilters)
	})

	o = secured(huma.Operation{
		OperationID: "list-denied", Method: http.MethodGet, Path: "/tenants/{tenant}/denied", Tags: tagAudit,
		Summary: "List denied heartbeats",
		Description: "Heartbeats refused because their source IP was outside the tenant's or the token's allowlist, newest " +
			"first; the same filters and formats as list-ip-changes.",
		Errors: []int{http.StatusUnprocessableEntity}, Responses: auditResponses("DeniedPage"),
	}, access{policy.AuditRead, scopePath})
	huma.Register(a, o, func(ctx context.Context, in *DeniedInput) (*huma.StreamResponse, error) {
		return h.denied(ctx, in.Tenant, in.Proxy, in.AuditFilters)
	})

	huma.Register(a, secured(huma.Operation{
		OperationID: "get-stats", Method: http.MethodGet, Path: "/tenants/{tenant}/stats", Tags: tagAudit,
		Summary:     "IP-change statistics",
		Description: "Per proxy: changes in the window, distinct new IPs, last change; and tenant totals.",
		Errors:      []int{http.StatusUnprocessableEntity},
	}, access{policy.AuditRead, scopePath}), h.stats)
}

func ipChangeOut(c hub.IPChange) api.IPChange {
	return api.IPChange{ID: c.ID, Proxy: c.Proxy, OldIP: c.OldIP.String(), NewIP: c.NewIP.String(), At: api.NewTime(c.At), TokenID: c.TokenID, RequestID: c.RequestID}
}

func deniedOut(d hub.Denied) api.Denied {
	return api.Denied{ID: d.ID, Proxy: d.Proxy, IP: d.IP.String(), At: api.NewTime(d.At), TokenID: d.TokenID, RequestID: d.RequestID, Reason: d.Reason}
}

// auditLog describes one audit listing (IP changes, denied heartbeats):
// how to scan its records and render them as JSON, a page, and CSV.
type auditLog[R, A any] struct {
	name   string   // export file name
	header []string // CSV header
	scan   func(ctx context.Context, tenant string, q hub.AuditQuery, fn func(R) error) error
	out    func(R) A
	id     func(R) int64
	row    func(R) []string
	page   func(items []A, next string) any
}

var ipChangeLog = auditLog[hub.IPChange, api.IPChange]{
	name:   "ip-changes",
	header: []string{"id", "proxy", "old_ip", "new_ip", "at", "token_id", "request_id"},
	out:    ipChangeOut,
	id:     func(c hub.IPChange) int64 { return c.ID },
	row: func(c hub.IPChange) []string {
		return []string{strconv.FormatInt(c.ID, 10), c.Proxy, c.OldIP.String(), c.NewIP.String(), api.NewTime(c.At).String(), c.TokenID, c.RequestID}
	},
	page: func(items []api.IPChange, next string) any {
		return api.IPChangePage{IPChanges: items, NextCursor: next}
	},
}

var deniedLog = auditLog[hub.Denied, api.Denied]{
	name:   "denied",
	header: []string{"id", "proxy", "ip", "at", "token_id", "request_id", "reason"},
	out:    deniedOut,
	id:     func(d hub.Denied) int64 { return d.ID },
	row: func(d hub.Denied) []string {
		return []string{strconv.FormatInt(d.ID, 10), d.Proxy, d.IP.String(), api.NewTime(d.At).String(), d.TokenID, d.RequestID, d.Reason}
	},
	page: func(items []api.Denied, next string) any { return api.DeniedPage{Denied: items, NextCursor: next} },
}

func (h *handlers) ipChanges(ctx context.Context, tenant, proxy string, f AuditFilters) (*huma.StreamResponse, error) {
	l := ipChangeLog
	l.scan = h.Hub.IPChanges
	return listAudit(ctx, h, l, tenant, proxy, f)
}

func (h *handlers) denied(ctx context.Context, tenant, proxy string, f AuditFilters) (*huma.StreamResponse, error) {
	l := deniedLog
	l.scan = h.Hub.DeniedHeartbeats
	return listAudit(ctx, h, l, tenant, proxy, f)
}

// listAudit answers an audit listing: a JSON page (newest first, with a
// cursor when more follow), or the whole selection streamed as CSV or
// NDJSON.
func listAudit[R, A any](ctx context.Context, h *handlers, l auditLog[R, A], tenant, proxy string, f AuditFilters) (*huma.StreamResponse, error) {
	q, err := f.query(proxy)
	if err != nil {
		return nil, err
	}
	if f.Format == "json" || f.Format == "" {
		items, next := []A{}, ""
		var last int64
		err := l.scan(ctx, tenant, q, func(r R) error {
			if len(items) == f.Limit {
				next = encodeIDCursor(last)
				return nil
			}
			items, last = append(items, l.out(r)), l.id(r)
			return nil
		})
		if err != nil {
			return nil, h.problem(ctx, err)
		}
		return jsonStream(l.page(items, next)), nil
	}
	return h.exportStream(f.Format, l.name, l.header, func(ctx context.Context, emit func(any, []string) error) error {
		return l.scan(ctx, tenant, q, func(r R) error { return emit(l.out(r), l.row(r)) })
	}), nil
}

// jsonStream writes one JSON body.
func jsonStream(v any) *huma.StreamResponse {
	return &huma.StreamResponse{Body: func(ctx huma.Context) {
		ctx.SetHeader("Content-Type", "application/json")
		ctx.SetStatus(http.StatusOK)
		_ = json.NewEncoder(ctx.BodyWriter()).Encode(v)
	}}
}

// exportWriteWindow is how long one chunk of an export may take to write;
// the server's write deadline is pushed out as rows go, so a long export
// is not cut by the server's WriteTimeout while a stalled client still is.
const exportWriteWindow = 30 * time.Second

// exportStream streams every record scan yields as CSV or NDJSON, without
// holding the selection in memory. An error after the first byte cannot
// change the status any more: it is logged and the stream ends early.
func (h *handlers) exportStream(format, name string, header []string, scan func(context.Context, func(any, []string) error) error) *huma.StreamResponse {
	return &huma.StreamResponse{Body: func(hctx huma.Context) {
		_, w := humago.Unwrap(hctx)
		rc := http.NewResponseController(w)
		ctx := hctx.Context()
		ext, ct := ".ndjson", "application/x-ndjson"
		if format == "csv" {
			ext, ct = ".csv", "text/csv; charset=utf-8"
		}
		hctx.SetHeader("Content-Type", ct)
		hctx.SetHeader("Content-Disposition", `attachment; filename="`+name+ext+`"`)
		hctx.SetStatus(http.StatusOK)
		out := hctx.BodyWriter()
		cw := csv.NewWriter(out)
		enc := json.NewEncoder(out)
		if format == "csv" {
			_ = cw.Write(header)
		}
		n := 0
		err := scan(ctx, func(rec any, row []string) error {
			if n%500 == 0 {
				_ = rc.SetWriteDeadline(time.Now().Add(exportWriteWindow))
			}
			n++
			if format == "csv" {
				return cw.Write(row)
			}
			return enc.Encode(rec)
		})
		cw.Flush()
		if err == nil {
			err = cw.Error()
		}
		if err != nil && err != io.ErrClosedPipe {
			h.Logger.WarnContext(ctx, "export ended early", slog.String("export", name), slog.Int("rows", n),
				slog.String("error", err.Error()), slog.String("request_id", requestIDFrom(ctx)))
		}
	}}
}

// StatsInput selects the statistics window.
type StatsInput struct {
	TenantPath
	Since time.Time `query:"since" doc:"Start of the window (inclusive, RFC 3339); open when absent."`
	Until time.Time `query:"until" doc:"End of the window (exclusive, RFC 3339); open when absent."`
}

// StatsOutput wraps the statistics.
type StatsOutput struct{ Body api.Stats }

func (h *handlers) stats(ctx context.Context, in *StatsInput) (*StatsOutput, error) {
	ps, err := h.Hub.IPChangeStats(ctx, in.Tenant, in.Since, in.Until)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	out := &StatsOutput{Body: api.Stats{Since: optTime(in.Since), Until: optTime(in.Until), Proxies: make([]api.ProxyStats, len(ps)), ProxiesChanged: len(ps)}}
	for i, p := range ps {
		out.Body.TotalChanges += p.Changes
		out.Body.Proxies[i] = api.ProxyStats{Proxy: p.Proxy, Changes: p.Changes, DistinctIPs: p.DistinctIPs, LastChange: api.NewTime(p.LastChange)}
	}
	return out, nil
}
