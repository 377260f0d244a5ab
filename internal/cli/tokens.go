package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/proxyhub/proxyhub/api/client"
	"github.com/proxyhub/proxyhub/internal/config"
)

// tokenColumns are the columns of tokens list.
func tokenColumns(now time.Time) []column[client.Token] {
	optAgo := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return ago(*t, now)
	}
	return []column[client.Token]{
		{title: "ID", key: "id", text: func(t client.Token) string { return t.Id }},
		{title: "LABEL", key: "label", text: func(t client.Token) string { return t.Label }},
		{title: "PROXY", key: "proxy", text: func(t client.Token) string { return deref(t.Proxy) }},
		{title: "CIDRS", key: "allowed_cidrs", text: func(t client.Token) string {
			if t.AllowedCidrs == nil {
				return ""
			}
			return strings.Join(*t.AllowedCidrs, ",")
		}},
		{title: "CREATED", key: "created_at", text: func(t client.Token) string { return ago(t.CreatedAt, now) },
			raw: func(t client.Token) string { return stamp(t.CreatedAt) }},
		{title: "LAST USED", key: "last_used_at", text: func(t client.Token) string { return optAgo(t.LastUsedAt) },
			raw: func(t client.Token) string { return optStamp(t.LastUsedAt) }},
		{title: "EXPIRES", key: "expires_at", text: func(t client.Token) string { return optAgo(t.ExpiresAt) },
			raw: func(t client.Token) string { return optStamp(t.ExpiresAt) }},
		{title: "STATE", key: "revoked_at", text: func(t client.Token) string { return tokenState(t, now) },
			raw: func(t client.Token) string { return optStamp(t.RevokedAt) }},
	}
}

// tokenState says whether a token still works: active, expired or revoked.
func tokenState(t client.Token, now time.Time) string {
	switch {
	case t.RevokedAt != nil:
		return "revoked"
	case t.ExpiresAt != nil && !now.Before(*t.ExpiresAt):
		return "expired"
	default:
		return "active"
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// tokensCreate is `proxyhub tokens create`.
func tokensCreate(ctx context.Context, env *Env, args []string) error {
	var body client.TokenCreate
	settings := []config.Setting{
		{Name: "label", NoEnv: true, Default: "", Usage: "what the token is for, e.g. \"edge fleet cron\" (required)", Parse: func(v string) error {
			body.Label = v
			if v == "" {
				return fmt.Errorf("required: say what the token is for")
			}
			return nil
		}},
		{Name: "proxy", NoEnv: true, Default: "", Usage: "bind the token to this one proxy name", Parse: func(v string) error {
			if v != "" {
				body.Proxy = &v
			}
			return nil
		}},
		{Name: "expires", NoEnv: true, Default: "", Usage: "when the token stops working: a duration from now (720h, 30d) or an RFC 3339 time; default never", Parse: func(v string) error {
			if v == "" {
				return nil
			}
			t, err := parseAhead(v, env.now())
			body.ExpiresAt = &t
			return err
		}},
		{Name: "cidr", NoEnv: true, Repeat: true, Default: "", Usage: "a source network the token may be used from, e.g. 203.0.113.0/24", Parse: func(v string) error {
			if v != "" {
				cidrs := strings.Split(v, ",")
				body.AllowedCidrs = &cidrs
			}
			return nil
		}},
	}
	return run(ctx, env, args, spec{
		name: "tokens create",
		summary: "Create a heartbeat token (phb_…) for the tenant's proxies' cron. Prints its secret alone on standard output, " +
			"the only time the hub shows it; -o json prints the whole object instead.",
		tenant:   true,
		formats:  []format{formatTable, formatJSON},
		settings: settings,
		do: func(ctx context.Context, c *call) error {
			res, err := c.hub.CreateTokenWithResponse(ctx, c.tenant, body)
			if err != nil {
				return err
			}
			tok := res.JSON201
			if c.format == formatJSON {
				return writeJSON(c.Stdout, tok)
			}
			if _, err := fmt.Fprintln(c.Stdout, tok.Token); err != nil {
				return err
			}
			fmt.Fprintf(c.Stderr, "created heartbeat token %s (%q) for tenant %s; its secret, above, is not shown again\n", tok.Id, tok.Label, c.tenant)
			return nil
		},
	})
}

// tokensList is `proxyhub tokens list`.
func tokensList(ctx context.Context, env *Env, args []string) error {
	return run(ctx, env, args, spec{
		name:    "tokens list",
		summary: "List the tenant's heartbeat tokens, oldest first, revoked ones too (never their secrets).",
		tenant:  true,
		formats: listFormats,
		do: func(ctx context.Context, c *call) error {
			res, err := c.hub.ListTokensWithResponse(ctx, c.tenant)
			if err != nil {
				return err
			}
			ts := res.JSON200.Tokens
			return writeList(c.Stdout, c.format, ts, tokenColumns(c.now()), "", ts)
		},
	})
}

// tokensRevoke is `proxyhub tokens revoke ID`.
func tokensRevoke(ctx context.Context, env *Env, args []string) error {
	var id string
	return run(ctx, env, args, spec{
		name:    "tokens revoke",
		summary: "Revoke a heartbeat token at once: every heartbeat it sends from now on is refused. ID is the token's id (tok_…).",
		args:    "ID",
		tenant:  true,
		parseArgs: func(a []string) error {
			if len(a) != 1 {
				return usage("tokens revoke takes one argument, the token id (got %d)", len(a))
			}
			id = a[0]
			return nil
		},
		do: func(ctx context.Context, c *call) error {
			if _, err := c.hub.RevokeTokenWithResponse(ctx, c.tenant, id); err != nil {
				return err
			}
			_, err := fmt.Fprintf(c.Stdout, "revoked %s\n", id)
			return err
		},
	})
}
