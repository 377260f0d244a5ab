package cli

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/proxyhub/proxyhub/api/client"
	"github.com/proxyhub/proxyhub/internal/config"
)

// tenantColumns are the columns of tenants list and tenants create.
func tenantColumns(now time.Time) []column[client.Tenant] {
	return []column[client.Tenant]{
		{title: "ID", key: "id", text: func(t client.Tenant) string { return t.Id }},
		{title: "NAME", key: "name", text: func(t client.Tenant) string { return t.Name }},
		{title: "OFFLINE AFTER", key: "offline_after", text: func(t client.Tenant) string { return (time.Duration(t.OfflineAfter) * time.Second).String() },
			raw: func(t client.Tenant) string { return strconv.FormatInt(t.OfflineAfter, 10) }},
		{title: "MAX PROXIES", key: "max_proxies", text: func(t client.Tenant) string { return strconv.FormatInt(t.MaxProxies, 10) }},
		{title: "AUTO REGISTER", key: "auto_register", text: func(t client.Tenant) string { return yesNo(t.AutoRegister) },
			raw: func(t client.Tenant) string { return strconv.FormatBool(t.AutoRegister) }},
		{title: "CREATED", key: "created_at", text: func(t client.Tenant) string { return ago(t.CreatedAt, now) },
			raw: func(t client.Tenant) string { return stamp(t.CreatedAt) }},
	}
}

// tenantsList is `proxyhub tenants list`.
func tenantsList(ctx context.Context, env *Env, args []string) error {
	return run(ctx, env, args, spec{
		name:    "tenants list",
		summary: "List every tenant of the hub, sorted by id (a platform credential).",
		formats: listFormats,
		do: func(ctx context.Context, c *call) error {
			res, err := c.hub.ListTenantsWithResponse(ctx)
			if err != nil {
				return err
			}
			ts := res.JSON200.Tenants
			return writeList(c.Stdout, c.format, ts, tenantColumns(c.now()), "", ts)
		},
	})
}

// tenantsCreate is `proxyhub tenants create ID`.
func tenantsCreate(ctx context.Context, env *Env, args []string) error {
	var body client.TenantCreate
	settings := []config.Setting{
		{Name: "name", NoEnv: true, Default: "", Usage: "display name (default: the id)", Parse: func(v string) error {
			if v != "" {
				body.Name = &v
			}
			return nil
		}},
		{Name: "offline-after", NoEnv: true, Default: "", Usage: "seconds of silence after which a proxy is offline, e.g. 80 or 2m (default: the hub's)", Parse: func(v string) error {
			if v == "" {
				return nil
			}
			s, err := seconds(v)
			body.OfflineAfter = &s
			return err
		}},
		{Name: "max-proxies", NoEnv: true, Default: "", Usage: "most proxies the tenant may have (default: the hub's)", Parse: func(v string) error {
			if v == "" {
				return nil
			}
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return errors.New("must be a whole number")
			}
			body.MaxProxies = &n
			return nil
		}},
		{Name: "auto-register", NoEnv: true, Switch: true, Default: "", Usage: "whether tokens not bound to a name may register new proxies (default true)", Parse: func(v string) error {
			if v == "" {
				return nil
			}
			b, err := strconv.ParseBool(v)
			body.AutoRegister = &b
			return err
		}},
	}
	return run(ctx, env, args, spec{
		name:     "tenants create",
		summary:  "Create a tenant (a platform credential). ID is 2-40 lowercase letters, digits and '-'.",
		args:     "ID",
		formats:  []format{formatTable, formatJSON},
		settings: settings,
		parseArgs: func(a []string) error {
			if len(a) != 1 {
				return usage("tenants create takes one argument, the tenant id (got %d)", len(a))
			}
			body.Id = a[0]
			return nil
		},
		do: func(ctx context.Context, c *call) error {
			res, err := c.hub.CreateTenantWithResponse(ctx, body)
			if err != nil {
				return err
			}
			t := *res.JSON201
			return writeList(c.Stdout, c.format, []client.Tenant{t}, tenantColumns(c.now()), "", t)
		},
	})
}

// seconds reads a timeout the API takes in whole seconds: a number ("80")
// or a Go duration ("2m").
func seconds(v string) (int64, error) {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return n, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d%time.Second != 0 {
		return 0, errors.New("must be whole seconds, e.g. 80 or 2m")
	}
	return int64(d / time.Second), nil
}
