package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/proxyhub/proxyhub/api"
	"github.com/proxyhub/proxyhub/internal/csvsafe"
	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/policy"
)

// ExportFilters select the records of an audit listing or export.
type ExportFilters struct {
	IP    string    `query:"ip" maxLength:"45" doc:"Only records where this address is the old or new (or refused) IP." example:"112.161.54.7"`
	Since time.Time `query:"since" doc:"Only records at or after this time (RFC 3339)."`
	Until time.Time `query:"until" doc:"Only records before this time (RFC 3339)."`
}

// AuditFilters are the filters and paging of the JSON audit listings.
type AuditFilters struct {
	ExportFilters
	Cursor string `query:"cursor" maxLength:"100" doc:"next_cursor of the previous page."`
	Limit  int    `query:"limit" minimum:"1" maximum:"1000" default:"100" doc:"Page size."`
	// Format is not in the document: the exports are operations of their
	// own. A request that asks for one here is told where it lives.
	Format string `query:"format" hidden:"true"`
}

// query converts the filters to a store query.
func (f ExportFilters) query(proxy string) (hub.AuditQuery, error) {
	q := hub.AuditQuery{Proxy: proxy, Since: f.Since, Until: f.Until}
	if f.IP != "" {
		ip, err := netip.ParseAddr(f.IP)
		if err != nil || ip.Zone() != "" {
			return q, huma.Error422UnprocessableEntity("invalid ip", &huma.ErrorDetail{Location: "query.ip", Message: "an IPv4 or IPv6 address", Value: f.IP})
		}
		q.IP = ip.Unmap()
	}
	return q, nil
}

// query converts the filters and the page to a store query.
func (f AuditFilters) query(proxy, exportPath string) (hub.AuditQuery, error) {
	if f.Format != "" && f.Format != "json" {
		return hub.AuditQuery{}, huma.Error422UnprocessableEntity("invalid format", &huma.ErrorDetail{Location: "query.format",
			Message: "this listing answers JSON pages; the CSV and NDJSON exports are GET " + exportPath + ".csv and " + exportPath + ".ndjson",
			Value:   f.Format})
	}
	q, err := f.ExportFilters.query(proxy)
	if err != nil {
		return q, err
	}
	if f.Cursor != "" {
		id, err := decodeIDCursor(f.Cursor)
		if err != nil {
			return q, huma.Error422UnprocessableEntity("invalid cursor", &huma.ErrorDetail{Location: "query.cursor", Message: "not a cursor from a previous page"})
		}
		q.BeforeID = id
	}
	q.Limit = f.Limit + 1 // one more tells whether a next page exists
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

// IPChangesInput selects a page of a tenant's IP-change history.
type IPChangesInput struct {
	TenantPath
	Proxy string `query:"proxy" maxLength:"100" doc:"Only this proxy." example:"edge-7"`
	AuditFilters
}

// ProxyIPChangesInput selects a page of one proxy's IP-change history.
type ProxyIPChangesInput struct {
	ProxyPath
	AuditFilters
}

// DeniedInput selects a page of a tenant's denied heartbeats.
type DeniedInput struct {
	TenantPath
	Proxy string `query:"proxy" maxLength:"100" doc:"Only this proxy." example:"edge-7"`
	AuditFilters
}

// IPChangesExportInput selects a tenant's IP-change history to export.
type IPChangesExportInput struct {
	TenantPath
	Proxy string `query:"proxy" maxLength:"100" doc:"Only this proxy." example:"edge-7"`
	ExportFilters
}

// ProxyIPChangesExportInput selects one proxy's IP-change history to export.
type ProxyIPChangesExportInput struct {
	ProxyPath
	ExportFilters
}

// DeniedExportInput selects a tenant's denied heartbeats to export.
type DeniedExportInput struct {
	TenantPath
	Proxy string `query:"proxy" maxLength:"100" doc:"Only this proxy." example:"edge-7"`
	ExportFilters
}

// IPChangePageOutput wraps a page of IP changes.
type IPChangePageOutput struct{ Body api.IPChangePage }

// DeniedPageOutput wraps a page of denied heartbeats.
type DeniedPageOutput struct{ Body api.DeniedPage }

// Media types of the audit exports.
const (
	mediaCSV    = "text/csv"
	mediaNDJSON = "application/x-ndjson"
)

// exportResponses documents an export's one answer: every matching record,
// newest first, streamed in one media type.
func exportResponses(media string, header []string) map[string]*huma.Response {
	desc := "Every matching record, newest first, streamed as CSV with a header row (" + strings.Join(header, ", ") + ")."
	if media == mediaNDJSON {
		desc = "Every matching record, newest first, streamed as newline-delimited JSON: one object per line, as in the JSON listing."
	}
	return map[string]*huma.Response{"200": {
		Description: desc,
		Headers: map[string]*huma.Param{"Content-Disposition": {
			Description: "attachment, with a file name.", Schema: &huma.Schema{Type: huma.TypeString},
		}},
		Content: map[string]*huma.MediaType{media: {Schema: &huma.Schema{Type: huma.TypeString}}},
	}}
}

// exportOp declares one export operation beside its JSON listing.
func exportOp(id, path, subject string, media string, header []string) huma.Operation {
	ext := ".csv"
	if media == mediaNDJSON {
		ext = ".ndjson"
	}
	return streaming(secured(huma.Operation{
		OperationID: id, Method: http.MethodGet, Path: path + ext, Tags: tagAudit,
		Summary: "Export " + subject + " as " + strings.ToUpper(ext[1:]),
		Description: "Streams every record the filters select, " + subject + ", newest first, without paging: " +
			"for spreadsheets (CSV) and log pipelines and SIEMs (NDJSON).",
		Errors: []int{http.StatusUnprocessableEntity}, Responses: exportResponses(media, header),
	}, access{policy.AuditRead, scopePath}))
}

func (h *handlers) registerAudit(a huma.API) {
	huma.Register(a, secured(huma.Operation{
		OperationID: "list-ip-changes", Method: http.MethodGet, Path: "/tenants/{tenant}/ip-changes", Tags: tagAudit,
		Summary: "List IP changes",
		Description: "The tenant's IP-change audit history, newest first, with keyset pagination. Filters: proxy, ip (old or new " +
			"address), since/until. export-ip-changes-csv and export-ip-changes-ndjson stream the whole selection.",
		Errors: []int{http.StatusUnprocessableEntity},
	}, access{policy.AuditRead, scopePath}), func(ctx context.Context, in *IPChangesInput) (*IPChangePageOutput, error) {
		items, next, err := pageAudit(ctx, h, h.ipChangeLog(ctx, in.Tenant), in.Tenant, in.Proxy, "/v1/tenants/{tenant}/ip-changes", in.AuditFilters)
		return &IPChangePageOutput{Body: api.IPChangePage{IPChanges: items, NextCursor: next}}, err
	})
	huma.Register(a, secured(huma.Operation{
		OperationID: "list-proxy-ip-changes", Method: http.MethodGet, Path: "/tenants/{tenant}/proxies/{name}/ip-changes", Tags: tagAudit,
		Summary: "List one proxy's IP changes",
		Description: "One proxy's IP-change history, newest first; the same filters as list-ip-changes. The history " +
			"outlives a decommissioned proxy.",
		Errors: []int{http.StatusUnprocessableEntity},
	}, access{policy.AuditRead, scopePath}), func(ctx context.Context, in *ProxyIPChangesInput) (*IPChangePageOutput, error) {
		items, next, err := pageAudit(ctx, h, h.ipChangeLog(ctx, in.Tenant), in.Tenant, in.Name, "/v1/tenants/{tenant}/proxies/{name}/ip-changes", in.AuditFilters)
		return &IPChangePageOutput{Body: api.IPChangePage{IPChanges: items, NextCursor: next}}, err
	})
	huma.Register(a, secured(huma.Operation{
		OperationID: "list-denied", Method: http.MethodGet, Path: "/tenants/{tenant}/denied", Tags: tagAudit,
		Summary: "List denied heartbeats",
		Description: "Heartbeats refused because their source IP was outside the tenant's or the token's allowlist, newest " +
			"first; the same filters as list-ip-changes.",
		Errors: []int{http.StatusUnprocessableEntity},
	}, access{policy.AuditRead, scopePath}), func(ctx context.Context, in *DeniedInput) (*DeniedPageOutput, error) {
		items, next, err := pageAudit(ctx, h, h.deniedLog(), in.Tenant, in.Proxy, "/v1/tenants/{tenant}/denied", in.AuditFilters)
		return &DeniedPageOutput{Body: api.DeniedPage{Denied: items, NextCursor: next}}, err
	})

	for _, media := range []string{mediaCSV, mediaNDJSON} {
		suffix := map[string]string{mediaCSV: "csv", mediaNDJSON: "ndjson"}[media]
		huma.Register(a, exportOp("export-ip-changes-"+suffix, "/tenants/{tenant}/ip-changes", "the tenant's IP changes", media, ipChangeHeader),
			func(ctx context.Context, in *IPChangesExportInput) (*huma.StreamResponse, error) {
				return exportAudit(ctx, h, h.ipChangeLog(ctx, in.Tenant), media, in.Tenant, in.Proxy, in.ExportFilters)
			})
		huma.Register(a, exportOp("export-proxy-ip-changes-"+suffix, "/tenants/{tenant}/proxies/{name}/ip-changes", "one proxy's IP changes", media, ipChangeHeader),
			func(ctx context.Context, in *ProxyIPChangesExportInput) (*huma.StreamResponse, error) {
				return exportAudit(ctx, h, h.ipChangeLog(ctx, in.Tenant), media, in.Tenant, in.Name, in.ExportFilters)
			})
		huma.Register(a, exportOp("export-denied-"+suffix, "/tenants/{tenant}/denied", "the tenant's denied heartbeats", media, deniedHeader),
			func(ctx context.Context, in *DeniedExportInput) (*huma.StreamResponse, error) {
				return exportAudit(ctx, h, h.deniedLog(), media, in.Tenant, in.Proxy, in.ExportFilters)
			})
	}

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
// how to scan its records and render them as JSON and as CSV rows.
type auditLog[R, A any] struct {
	name   string   // export file name
	header []string // CSV header
	scan   func(ctx context.Context, tenant string, q hub.AuditQuery, fn func(R) error) error
	out    func(R) A
	id     func(R) int64
	row    func(R) []string
}

var (
	ipChangeHeader = []string{"id", "proxy", "old_ip", "new_ip", "at", "token_id", "request_id"}
	deniedHeader   = []string{"id", "proxy", "ip", "at", "token_id", "request_id", "reason"}
)

// ipChangeLog is the IP-change listing of tenant; its JSON records are
// flagged in_maintenance where a window of the tenant covered them (when
// the windows cannot be read, the scan that follows reports the failure).
func (h *handlers) ipChangeLog(ctx context.Context, tenant string) auditLog[hub.IPChange, api.IPChange] {
	ws, _ := h.Hub.CachedWindows(ctx, tenant)
	return auditLog[hub.IPChange, api.IPChange]{
		name:   "ip-changes",
		header: ipChangeHeader,
		scan:   h.Hub.IPChanges,
		out: func(c hub.IPChange) api.IPChange {
			out := ipChangeOut(c)
			out.InMaintenance = hub.InMaintenance(ws, c.Proxy, c.At)
			return out
		},
		id: func(c hub.IPChange) int64 { return c.ID },
		row: func(c hub.IPChange) []string {
			return []string{strconv.FormatInt(c.ID, 10), c.Proxy, c.OldIP.String(), c.NewIP.String(), api.NewTime(c.At).String(), c.TokenID, c.RequestID}
		},
	}
}

func (h *handlers) deniedLog() auditLog[hub.Denied, api.Denied] {
	return auditLog[hub.Denied, api.Denied]{
		name:   "denied",
		header: deniedHeader,
		scan:   h.Hub.DeniedHeartbeats,
		out:    deniedOut,
		id:     func(d hub.Denied) int64 { return d.ID },
		row: func(d hub.Denied) []string {
			return []string{strconv.FormatInt(d.ID, 10), d.Proxy, d.IP.String(), api.NewTime(d.At).String(), d.TokenID, d.RequestID, d.Reason}
		},
	}
}

// pageAudit answers one page of an audit listing, newest first, with the
// cursor of the next page when more follow.
func pageAudit[R, A any](ctx context.Context, h *handlers, l auditLog[R, A], tenant, proxy, exportPath string, f AuditFilters) ([]A, string, error) {
	q, err := f.query(proxy, exportPath)
	if err != nil {
		return nil, "", err
	}
	items, next := []A{}, ""
	var last int64
	err = l.scan(ctx, tenant, q, func(r R) error {
		if len(items) == f.Limit {
			next = encodeIDCursor(last)
			return nil
		}
		items, last = append(items, l.out(r)), l.id(r)
		return nil
	})
	if err != nil {
		return nil, "", h.problem(ctx, err)
	}
	return items, next, nil
}

// exportAudit streams the whole selection of an audit listing in media.
// The tenant is looked up first: once the stream has begun, its status
// can no longer say that there is no such tenant.
func exportAudit[R, A any](ctx context.Context, h *handlers, l auditLog[R, A], media, tenant, proxy string, f ExportFilters) (*huma.StreamResponse, error) {
	q, err := f.query(proxy)
	if err != nil {
		return nil, err
	}
	tctx, cancel := context.WithTimeout(ctx, h.StoreTimeout)
	defer cancel()
	if _, err := h.Hub.Tenant(tctx, tenant); err != nil {
		return nil, h.problem(ctx, err)
	}
	return h.exportStream(media, l.name, l.header, func(ctx context.Context, emit func(any, []string) error) error {
		return l.scan(ctx, tenant, q, func(r R) error { return emit(l.out(r), l.row(r)) })
	}), nil
}

// exportWriteWindow is how long one chunk of an export may take to write;
// the server's write deadline is pushed out as rows go, so a long export
// is not cut by the server's WriteTimeout while a stalled client still is.
const exportWriteWindow = 30 * time.Second

// exportStream streams every record scan yields as CSV or NDJSON, without
// holding the selection in memory. An error after the first byte cannot
// change the status any more: it is logged and the stream ends early.
func (h *handlers) exportStream(media, name string, header []string, scan func(context.Context, func(any, []string) error) error) *huma.StreamResponse {
	return &huma.StreamResponse{Body: func(hctx huma.Context) {
		_, w := humago.Unwrap(hctx)
		rc := http.NewResponseController(w)
		ctx := hctx.Context()
		ext, ct := ".ndjson", mediaNDJSON
		if media == mediaCSV {
			ext, ct = ".csv", mediaCSV+"; charset=utf-8"
		}
		hctx.SetHeader("Content-Type", ct)
		hctx.SetHeader("Content-Disposition", `attachment; filename="`+name+ext+`"`)
		hctx.SetStatus(http.StatusOK)
		out := hctx.BodyWriter()
		cw := csvsafe.NewWriter(out)
		enc := json.NewEncoder(out)
		if media == mediaCSV {
			_ = cw.Write(header)
		}
		n := 0
		err := scan(ctx, func(rec any, row []string) error {
			if n%500 == 0 {
				_ = rc.SetWriteDeadline(time.Now().Add(exportWriteWindow))
			}
			n++
			if media == mediaCSV {
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
type StatsOutput struct{ Body api.IPChangeStats }

func (h *handlers) stats(ctx context.Context, in *StatsInput) (*StatsOutput, error) {
	ps, err := h.Hub.IPChangeStats(ctx, in.Tenant, in.Since, in.Until)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	out := &StatsOutput{Body: api.IPChangeStats{Since: optTime(in.Since), Until: optTime(in.Until), Proxies: make([]api.ProxyIPChangeStats, len(ps)), ProxiesChanged: len(ps)}}
	for i, p := range ps {
		out.Body.TotalChanges += p.Changes
		out.Body.Proxies[i] = api.ProxyIPChangeStats{Proxy: p.Proxy, Changes: p.Changes, DistinctIPs: p.DistinctIPs, LastChange: api.NewTime(p.LastChange)}
	}
	return out, nil
}
