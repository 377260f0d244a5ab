package cli

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/proxyhub/proxyhub/api/client"
	"github.com/proxyhub/proxyhub/internal/config"
)

// statusReport is what status shows: every proxy of the tenant, offline
// first, then by name, with the totals. It is also its JSON form.
type statusReport struct {
	Total   int            `json:"total"`
	Online  int            `json:"online"`
	Offline int            `json:"offline"`
	Proxies []client.Proxy `json:"proxies"`
}

// fetchStatus reads every proxy of the tenant, page by page.
func fetchStatus(ctx context.Context, hub *client.Hub, tenant string) (statusReport, error) {
	r := statusReport{Proxies: []client.Proxy{}}
	pageSize := int64(1000)
	for p, err := range hub.Proxies(ctx, tenant, client.ListProxiesParams{Limit: &pageSize}) {
		if err != nil {
			return r, err
		}
		r.Proxies = append(r.Proxies, p)
		if p.Status == client.LivenessOffline {
			r.Offline++
		} else {
			r.Online++
		}
	}
	r.Total = len(r.Proxies)
	sortProxies(r.Proxies)
	return r, nil
}

// sortProxies puts offline proxies first, then sorts by name.
func sortProxies(ps []client.Proxy) {
	slices.SortStableFunc(ps, func(a, b client.Proxy) int {
		if (a.Status == client.LivenessOffline) != (b.Status == client.LivenessOffline) {
			if a.Status == client.LivenessOffline {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.Name, b.Name)
	})
}

// proxyColumns are the columns of status.
func proxyColumns(now time.Time) []column[client.Proxy] {
	return []column[client.Proxy]{
		{title: "NAME", key: "name", text: func(p client.Proxy) string { return p.Name }},
		{title: "STATUS", key: "status", text: func(p client.Proxy) string { return string(p.Status) }},
		{title: "IP", key: "remote_ip", text: func(p client.Proxy) string { return p.RemoteIp }},
		{title: "LAST SEEN", key: "last_seen", text: func(p client.Proxy) string { return ago(p.LastSeen, now) },
			raw: func(p client.Proxy) string { return stamp(p.LastSeen) }},
		{title: "IP CHANGES", key: "ip_changes", text: func(p client.Proxy) string { return strconv.FormatInt(p.IpChanges, 10) }},
		{title: "PAUSED", key: "paused", text: func(p client.Proxy) string { return yesNo(p.Paused) },
			raw: func(p client.Proxy) string { return strconv.FormatBool(p.Paused) }},
	}
}

// summary is the table's last line: "3 proxies: 2 online, 1 offline".
func (r statusReport) summary() string {
	return fmt.Sprintf("%s: %d online, %d offline", plural(r.Total, "proxy", "proxies"), r.Online, r.Offline)
}

// render prints r as f.
func (r statusReport) render(w io.Writer, f format, now time.Time) error {
	return writeList(w, f, r.Proxies, proxyColumns(now), r.summary(), r)
}

// status is `proxyhub status`.
func status(ctx context.Context, env *Env, args []string) error {
	var (
		watch    bool
		interval time.Duration
	)
	settings := []config.Setting{
		{Name: "watch", Short: "w", NoEnv: true, Switch: true, Default: "false", Usage: "refresh every --interval until interrupted (Ctrl-C)", Parse: func(v string) (err error) {
			watch, err = strconv.ParseBool(v)
			return err
		}},
		{Name: "interval", NoEnv: true, Default: "5s", Usage: "time between refreshes with --watch", Parse: func(v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return errors.New("must be a positive duration such as 5s")
			}
			interval = d
			return nil
		}},
	}
	return run(ctx, env, args, spec{
		name: "status",
		summary: "Show the tenant's proxies, offline first, then by name: status, IP, last heartbeat, IP changes, paused; then the totals. " +
			"With --watch, redraw every --interval until interrupted (the screen is cleared only when standard output is a terminal; " +
			"otherwise each refresh is a block of its own, after a blank line).",
		tenant:   true,
		formats:  listFormats,
		settings: settings,
		do: func(ctx context.Context, c *call) error {
			frame := func(ctx context.Context) ([]byte, error) {
				r, err := fetchStatus(ctx, c.hub, c.tenant)
				if err != nil {
					return nil, err
				}
				var b bytes.Buffer
				err = r.render(&b, c.format, c.now())
				return b.Bytes(), err
			}
			if !watch {
				b, err := frame(ctx)
				if err != nil {
					return err
				}
				_, err = c.Stdout.Write(b)
				return err
			}
			return c.watch(ctx, interval, frame)
		},
	})
}

// clearScreen moves the cursor home and clears the terminal (ANSI).
const clearScreen = "\x1b[H\x1b[2J"

// watch prints a fresh frame every interval until ctx ends, which is a
// clean stop (nil). On a terminal each frame replaces the last; elsewhere
// frames follow each other, separated by a blank line. A first frame that
// fails is the command's error; a later failure is reported on Stderr and
// the next refresh tries again.
func (c *call) watch(ctx context.Context, interval time.Duration, frame func(context.Context) ([]byte, error)) error {
	term := c.terminal(c.Stdout)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for n := 0; ; n++ {
		b, err := frame(ctx)
		if ctx.Err() != nil {
			return nil
		}
		switch {
		case err != nil && n == 0:
			return err
		case err != nil:
			c.report(err)
		default:
			var out bytes.Buffer
			if term {
				out.WriteString(clearScreen)
				if c.format == formatTable {
					fmt.Fprintf(&out, "proxyhub status --tenant %s, every %v (Ctrl-C stops)\n\n", c.tenant, interval)
				}
			} else if n > 0 {
				out.WriteString("\n")
			}
			out.Write(b)
			if _, err := c.Stdout.Write(out.Bytes()); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}
