package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
)

// load reads the current state from the database: tenants, heartbeat
// tokens, proxies (with the heartbeat log replayed onto them, and the
// deadline heap) and the id sequences. It runs when the store opens, and
// again after a write whose outcome is unknown.
func load(ctx context.Context, db *sql.DB) (*state, error) {
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	st := newState()
	if err := loadTenants(ctx, tx, st); err != nil {
		return nil, err
	}
	if err := loadTokens(ctx, tx, st); err != nil {
		return nil, err
	}
	seqs, err := loadProxies(ctx, tx, st)
	if err != nil {
		return nil, err
	}
	if err := loadSequences(ctx, tx, st); err != nil {
		return nil, err
	}
	if _, err := replayLog(ctx, tx, st, seqs); err != nil {
		return nil, err
	}
	for _, t := range st.tenants {
		for _, p := range t.proxies {
			st.queue(t, p)
		}
	}
	return st, nil
}

func loadTenants(ctx context.Context, tx *sql.Tx, st *state) error {
	rows, err := tx.QueryContext(ctx, `SELECT id, name, offline_after_ns, max_proxies, auto_register, allowlist, admin_allowlist, created_at, updated_at FROM tenants`)
	if err != nil {
		return fmt.Errorf("load tenants: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var t hub.Tenant
		var offline, created, updated int64
		var allow, admin string
		if err := rows.Scan(&t.ID, &t.Name, &offline, &t.MaxProxies, &t.AutoRegister, &allow, &admin, &created, &updated); err != nil {
			return fmt.Errorf("load tenants: %w", err)
		}
		t.OfflineAfter, t.CreatedAt, t.UpdatedAt = time.Duration(offline), fromNanos(created), fromNanos(updated)
		if t.Allowlist, err = parsePrefixes(allow); err != nil {
			return err
		}
		if t.AdminAllowlist, err = parsePrefixes(admin); err != nil {
			return err
		}
		st.tenants[t.ID] = newTenantState(t)
	}
	return rows.Err()
}

func loadTokens(ctx context.Context, tx *sql.Tx, st *state) error {
	rows, err := tx.QueryContext(ctx, `SELECT tenant_id, id, label, hash, proxy, allowed_cidrs, expires_at, created_at, last_used_at, revoked_at
		FROM heartbeat_tokens ORDER BY rowid`)
	if err != nil {
		return fmt.Errorf("load tokens: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		tok, err := scanToken(rows)
		if err != nil {
			return fmt.Errorf("load tokens: %w", err)
		}
		t := st.tenants[tok.TenantID]
		if t == nil {
			return fmt.Errorf("load tokens: token %s of unknown tenant %q", tok.ID, tok.TenantID)
		}
		st.addToken(t, &tok)
	}
	return rows.Err()
}

// scanToken reads a heartbeat_tokens row in the column order of
// loadTokens.
func scanToken(rows *sql.Rows) (hub.Token, error) {
	var tok hub.Token
	var cidrs string
	var expires, used, revoked sql.NullInt64
	var created int64
	if err := rows.Scan(&tok.TenantID, &tok.ID, &tok.Label, &tok.Hash, &tok.Proxy, &cidrs, &expires, &created, &used, &revoked); err != nil {
		return tok, err
	}
	var err error
	tok.AllowedCIDRs, err = parsePrefixes(cidrs)
	tok.ExpiresAt, tok.CreatedAt, tok.LastUsedAt, tok.RevokedAt = fromNullNanos(expires), fromNanos(created), fromNullNanos(used), fromNullNanos(revoked)
	return tok, err
}

// loadProxies reads the proxies rows and returns each row's log_seq by
// row id; the batch sequence starts at least at the highest.
func loadProxies(ctx context.Context, tx *sql.Tx, st *state) (map[int64]int64, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, tenant_id, name, ip, peer_ip, created_at, last_seen, ip_changes, state, paused, offline_after_ns, deadline, log_seq FROM proxies`)
	if err != nil {
		return nil, fmt.Errorf("load proxies: %w", err)
	}
	defer rows.Close()
	seqs := map[int64]int64{}
	for rows.Next() {
		p := &proxyRec{}
		var tenant, state string
		var ip, peer sql.NullString
		var offlineAfter, seq int64
		if err := rows.Scan(&p.id, &tenant, &p.name, &ip, &peer, &p.created, &p.lastSeen, &p.ipChanges, &state, &p.paused, &offlineAfter, &p.deadline, &seq); err != nil {
			return nil, fmt.Errorf("load proxies: %w", err)
		}
		if p.ip, err = parseAddr(ip); err != nil {
			return nil, err
		}
		if p.peer, err = parseAddr(peer); err != nil {
			return nil, err
		}
		p.offline, p.offlineAfter = state == hub.StateOffline, time.Duration(offlineAfter)
		t := st.tenants[tenant]
		if t == nil {
			return nil, fmt.Errorf("load proxies: proxy %s of unknown tenant %q", p.name, tenant)
		}
		t.proxies[p.name] = p
		seqs[p.id] = seq
		st.seq.batch = max(st.seq.batch, seq)
	}
	return seqs, rows.Err()
}

// loadSequences starts the id counters where the tables' AUTOINCREMENT
// sequences stand: the highest id each table ever held.
func loadSequences(ctx context.Context, tx *sql.Tx, st *state) error {
	rows, err := tx.QueryContext(ctx, `SELECT name, seq FROM sqlite_sequence`)
	if err != nil {
		return fmt.Errorf("load sequences: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var seq int64
		if err := rows.Scan(&name, &seq); err != nil {
			return fmt.Errorf("load sequences: %w", err)
		}
		switch name {
		case "proxies":
			st.seq.proxy = seq
		case "ip_changes":
			st.seq.change = seq
		case "denied":
			st.seq.denied = seq
		case "events":
			st.seq.event = seq
		}
	}
	return rows.Err()
}
