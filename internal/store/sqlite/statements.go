package sqlite

import (
	"context"
	"database/sql"
)

// statements are the writer's prepared statements of the heartbeat path
// and the sweep, prepared once on the writer connection and bound to each
// transaction with Tx.StmtContext (which reuses them).
type statements struct {
	writeProxy   *sql.Stmt
	insertProxy  *sql.Stmt
	insertChange *sql.Stmt
	insertEvent  *sql.Stmt
	insertLog    *sql.Stmt
	touchToken   *sql.Stmt
}

func (st *statements) prepare(ctx context.Context, db *sql.DB) error {
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&st.writeProxy, `UPDATE proxies SET ip = ?, peer_ip = ?, last_seen = ?, ip_changes = ?, state = ?, paused = ?,
			offline_after_ns = ?, deadline = ?, log_seq = ? WHERE id = ?`},
		{&st.insertProxy, `INSERT INTO proxies (id, tenant_id, name, ip, peer_ip, created_at, last_seen, ip_changes, state, paused,
			offline_after_ns, deadline, log_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`},
		{&st.insertChange, `INSERT INTO ip_changes (id, tenant_id, proxy, old_ip, new_ip, at, token_id, request_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`},
		{&st.insertEvent, `INSERT INTO events (id, tenant_id, type, proxy, at, old_ip, new_ip) VALUES (?, ?, ?, ?, ?, ?, ?)`},
		{&st.insertLog, `INSERT INTO heartbeat_log (id, beats) VALUES (?, ?)`},
		{&st.touchToken, `UPDATE heartbeat_tokens SET last_used_at = ? WHERE tenant_id = ? AND id = ?`},
	} {
		var err error
		if *p.stmt, err = db.PrepareContext(ctx, p.sql); err != nil {
			return err
		}
	}
	return nil
}

func (st *statements) close() {
	for _, s := range []*sql.Stmt{st.writeProxy, st.insertProxy, st.insertChange, st.insertEvent, st.insertLog, st.touchToken} {
		if s != nil {
			_ = s.Close()
		}
	}
}
