package cli

import (
	"context"
	"encoding/csv"
	"errors"
	"io"
	"iter"
	"strconv"
	"time"

	"github.com/proxyhub/proxyhub/api/client"
	"github.com/proxyhub/proxyhub/internal/config"
	"github.com/proxyhub/proxyhub/internal/csvsafe"
)

// maxPage is the largest page the API's listings answer.
const maxPage = 1000

// historyQuery is what history selects: the API's filters and how many
// records at most (0: all).
type historyQuery struct {
	proxy, ip    string
	since, until time.Time
	limit        int64
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// ipChangeColumns are the columns of history.
func ipChangeColumns(now time.Time) []column[client.IPChange] {
	return []column[client.IPChange]{
		{title: "TIME", key: "at", text: func(c client.IPChange) string { return c.At.UTC().Format(time.RFC3339) }},
		{title: "AGO", key: "ago", text: func(c client.IPChange) string { return ago(c.At, now) }},
		{title: "PROXY", key: "proxy", text: func(c client.IPChange) string { return c.Proxy }},
		{title: "OLD IP", key: "old_ip", text: func(c client.IPChange) string { return c.OldIp }},
		{title: "NEW IP", key: "new_ip", text: func(c client.IPChange) string { return c.NewIp }},
	}
}

// history is `proxyhub history`.
func history(ctx context.Context, env *Env, args []string) error {
	var q historyQuery
	settings := []config.Setting{
		{Name: "proxy", NoEnv: true, Default: "", Usage: "only this proxy", Parse: func(v string) error {
			q.proxy = v
			return nil
		}},
		{Name: "ip", NoEnv: true, Default: "", Usage: "only changes from or to this address", Parse: func(v string) error {
			q.ip = v
			return nil
		}},
		{Name: "since", NoEnv: true, Default: "", Usage: "only changes at or after this time: RFC 3339, or a duration (24h, 7d) meaning that long ago", Parse: func(v string) (err error) {
			if v != "" {
				q.since, err = parseAgo(v, env.now())
			}
			return err
		}},
		{Name: "until", NoEnv: true, Default: "", Usage: "only changes before this time: RFC 3339, or a duration meaning that long ago", Parse: func(v string) (err error) {
			if v != "" {
				q.until, err = parseAgo(v, env.now())
			}
			return err
		}},
		{Name: "limit", NoEnv: true, Default: "0", Usage: "at most this many changes, newest first; 0 for all", Parse: func(v string) error {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return errors.New("must be a whole number, 0 for all")
			}
			q.limit = n
			return nil
		}},
	}
	return run(ctx, env, args, spec{
		name: "history",
		summary: "Show the tenant's IP changes, newest first, with the API's filters. -o table and -o json page through the " +
			"listing (json prints one array, written as the pages arrive); -o csv streams the hub's CSV export as it comes, " +
			"with its columns (id, proxy, old_ip, new_ip, at, token_id, request_id).",
		tenant:   true,
		formats:  listFormats,
		settings: settings,
		do: func(ctx context.Context, c *call) error {
			switch c.format {
			case formatCSV:
				return c.exportCSV(ctx, q)
			case formatJSON:
				arr := &jsonArray{w: c.Stdout}
				for ch, err := range c.ipChanges(ctx, q) {
					if err != nil {
						return err
					}
					if err := arr.add(ch); err != nil {
						return err
					}
				}
				return arr.close()
			default:
				var all []client.IPChange
				for ch, err := range c.ipChanges(ctx, q) {
					if err != nil {
						return err
					}
					all = append(all, ch)
				}
				return writeList(c.Stdout, formatTable, all, ipChangeColumns(c.now()), plural(len(all), "IP change", "IP changes"), nil)
			}
		},
	})
}

// ipChanges yields the selected changes, newest first, at most q.limit.
func (c *call) ipChanges(ctx context.Context, q historyQuery) iter.Seq2[client.IPChange, error] {
	return func(yield func(client.IPChange, error) bool) {
		pageSize := int64(maxPage)
		if q.limit > 0 && q.limit < pageSize {
			pageSize = q.limit
		}
		params := client.ListIpChangesParams{Proxy: optString(q.proxy), Ip: optString(q.ip), Since: optTime(q.since), Until: optTime(q.until), Limit: &pageSize}
		n := int64(0)
		for ch, err := range c.hub.IPChanges(ctx, c.tenant, params) {
			if !yield(ch, err) || err != nil {
				return
			}
			if n++; q.limit > 0 && n >= q.limit {
				return
			}
		}
	}
}

// exportCSV copies the hub's CSV export to Stdout as it arrives. With a
// limit, the rows pass through a CSV reader and writer, so the export is
// cut after that many records, still without holding them.
func (c *call) exportCSV(ctx context.Context, q historyQuery) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the export when a limit cuts it short
	body, err := c.hub.ExportIPChangesCSV(ctx, c.tenant, client.ExportIpChangesCsvParams{
		Proxy: optString(q.proxy), Ip: optString(q.ip), Since: optTime(q.since), Until: optTime(q.until)})
	if err != nil {
		return err
	}
	defer body.Close()
	if q.limit == 0 {
		_, err = io.Copy(c.Stdout, body)
		return err
	}
	r, w := csv.NewReader(body), csvsafe.NewWriter(c.Stdout)
	r.ReuseRecord = true
	for n := int64(-1); n < q.limit; n++ { // the header, then q.limit records
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if err := w.Write(rec); err != nil {
			return err
		}
	}
	w.Flush()
	return w.Error()
}
