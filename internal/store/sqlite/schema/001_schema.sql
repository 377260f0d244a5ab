-- 001: the tables of the embedded (SQLite) store.
--
-- Times are Unix nanoseconds (INTEGER); an unset time is NULL. IP addresses
-- are their canonical text (netip.Addr.String), prefix lists are
-- comma-separated canonical prefixes ('' when empty). Identifiers compare
-- bytewise (SQLite's default BINARY collation), as in the other stores.
--
-- The store keeps the current state (tenants, heartbeat tokens, proxies) in
-- memory as well, loaded from these tables when it opens; the history
-- tables (ip_changes, denied, events, webhook_deliveries) are read from
-- here only. The history keeps its own AUTOINCREMENT sequences, so an id
-- is never handed out twice, even after retention deleted the newest rows.

CREATE TABLE tenants (
    id               TEXT PRIMARY KEY CHECK (id <> ''),
    name             TEXT NOT NULL,
    offline_after_ns INTEGER NOT NULL CHECK (offline_after_ns >= 0),
    max_proxies      INTEGER NOT NULL CHECK (max_proxies >= 0),
    auto_register    INTEGER NOT NULL CHECK (auto_register IN (0, 1)),
    allowlist        TEXT NOT NULL DEFAULT '',
    admin_allowlist  TEXT NOT NULL DEFAULT '',
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
) WITHOUT ROWID;

-- Heartbeat tokens: only the hex SHA-256 of the secret is kept. The rowid
-- is creation order (ListTokens is oldest first).
CREATE TABLE heartbeat_tokens (
    tenant_id     TEXT NOT NULL REFERENCES tenants (id),
    id            TEXT NOT NULL,
    label         TEXT NOT NULL,
    hash          TEXT NOT NULL UNIQUE,
    proxy         TEXT NOT NULL DEFAULT '', -- '' = any proxy
    allowed_cidrs TEXT NOT NULL DEFAULT '', -- '' = any source
    expires_at    INTEGER,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER,
    revoked_at    INTEGER,
    UNIQUE (tenant_id, id)
);

-- Admin API credentials (OAuth2 client credentials): only the secret's
-- hash is kept. The client id is unique across tenants.
CREATE TABLE admin_credentials (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants (id),
    role         TEXT NOT NULL,
    label        TEXT NOT NULL,
    secret_hash  TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER,
    seq          INTEGER NOT NULL -- creation order
);
CREATE INDEX admin_credentials_tenant ON admin_credentials (tenant_id, seq);

-- The current state of each proxy. The id is the store's own handle for
-- the row; (tenant_id, name) is the proxy's identity. A row holds the
-- proxy's state as of the heartbeat log position log_seq: heartbeats that
-- changed nothing but the time and the socket peer may be newer, in
-- heartbeat_log.
CREATE TABLE proxies (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id        TEXT NOT NULL REFERENCES tenants (id),
    name             TEXT NOT NULL,
    ip               TEXT NOT NULL, -- resolved client IP of the latest heartbeat
    peer_ip          TEXT,          -- raw socket peer of the latest heartbeat
    created_at       INTEGER NOT NULL,
    last_seen        INTEGER NOT NULL,
    ip_changes       INTEGER NOT NULL DEFAULT 0,
    state            TEXT NOT NULL DEFAULT 'online' CHECK (state IN ('online', 'offline')),
    paused           INTEGER NOT NULL DEFAULT 0 CHECK (paused IN (0, 1)),
    offline_after_ns INTEGER NOT NULL DEFAULT 0 CHECK (offline_after_ns >= 0), -- 0 follows the tenant
    deadline         INTEGER NOT NULL, -- offline once this has passed without a heartbeat
    log_seq          INTEGER NOT NULL DEFAULT 0,
    UNIQUE (tenant_id, name)
);

-- The heartbeat log: one row per heartbeat batch, holding its heartbeats
-- that changed nothing but a proxy's last_seen and peer_ip (the steady
-- state: same IP, already online), so that such a heartbeat costs a few
-- bytes of one INSERT instead of a row update. Each entry is, in order:
-- the proxy's id (uvarint), the heartbeat's time (Unix ns, varint), the
-- peer's address length (one byte: 0, 4 or 16) and bytes. Replaying a
-- batch onto a proxy row whose log_seq is below the batch's id:
-- last_seen = max(last_seen, time), peer_ip = the peer, deadline =
-- last_seen + the effective timeout. The store folds the log into the
-- proxies rows every 30 s (sooner when the log grows long), when it opens and closes, and then
-- deletes what it folded.
CREATE TABLE heartbeat_log (
    id    INTEGER PRIMARY KEY,
    beats BLOB NOT NULL
);

-- The IP-change history: append-only (see the triggers below).
CREATE TABLE ip_changes (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id  TEXT NOT NULL,
    proxy      TEXT NOT NULL,
    old_ip     TEXT NOT NULL,
    new_ip     TEXT NOT NULL,
    at         INTEGER NOT NULL,
    token_id   TEXT NOT NULL DEFAULT '',
    request_id TEXT NOT NULL DEFAULT ''
);
CREATE INDEX ip_changes_tenant ON ip_changes (tenant_id, id);
CREATE INDEX ip_changes_proxy ON ip_changes (tenant_id, proxy, id);
CREATE INDEX ip_changes_old_ip ON ip_changes (tenant_id, old_ip, id);
CREATE INDEX ip_changes_new_ip ON ip_changes (tenant_id, new_ip, id);
CREATE INDEX ip_changes_at ON ip_changes (at);

-- Heartbeats refused by policy: append-only.
CREATE TABLE denied (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    proxy      TEXT NOT NULL DEFAULT '',
    ip         TEXT NOT NULL,
    at         INTEGER NOT NULL,
    token_id   TEXT NOT NULL DEFAULT '',
    request_id TEXT NOT NULL DEFAULT '',
    reason     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX denied_tenant ON denied (tenant_id, id);
CREATE INDEX denied_proxy ON denied (tenant_id, proxy, id);
CREATE INDEX denied_ip ON denied (tenant_id, ip, id);
CREATE INDEX denied_at ON denied (at);

-- The event stream of each tenant: append-only. Ids follow commit order
-- (there is one writer), so a reader following a stream by id never skips
-- an event.
CREATE TABLE events (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id TEXT NOT NULL,
    type      TEXT NOT NULL CHECK (type IN ('registered', 'ip_changed', 'offline', 'online', 'denied')),
    proxy     TEXT NOT NULL DEFAULT '',
    at        INTEGER NOT NULL, -- when it happened; for offline, the deadline
    old_ip    TEXT,             -- ip_changed: the previous IP
    new_ip    TEXT              -- the current IP; denied: the refused one
);
CREATE INDEX events_tenant ON events (tenant_id, id);
CREATE INDEX events_proxy ON events (tenant_id, proxy, id);
CREATE INDEX events_at ON events (at);

-- Webhooks (notification targets) with the dispatcher's delivery state.
-- The rowid is creation order (ListWebhooks is oldest first).
CREATE TABLE webhooks (
    tenant_id       TEXT NOT NULL REFERENCES tenants (id),
    id              TEXT NOT NULL,
    kind            TEXT NOT NULL,
    url             TEXT NOT NULL,
    events          TEXT NOT NULL DEFAULT '', -- comma-separated event types; '' = all
    enabled         INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    -- The signing secret is a shared HMAC key (Standard Webhooks): the hub
    -- signs every generic delivery with it, so it is kept as given. Anyone
    -- who can read this file can forge deliveries to the receiver.
    secret          TEXT NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    cursor_id       INTEGER NOT NULL DEFAULT 0,
    attempt         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    failing_since   INTEGER,
    UNIQUE (tenant_id, id)
);

-- The delivery log: one row per attempt. Deleting a webhook deletes its
-- log (ON DELETE CASCADE); retention deletes old rows; nothing updates one.
CREATE TABLE webhook_deliveries (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id      TEXT NOT NULL,
    webhook_id     TEXT NOT NULL,
    at             INTEGER NOT NULL,
    attempt        INTEGER NOT NULL,
    status_code    INTEGER NOT NULL DEFAULT 0,
    error          TEXT NOT NULL DEFAULT '',
    first_event_id INTEGER NOT NULL DEFAULT 0,
    last_event_id  INTEGER NOT NULL DEFAULT 0,
    events         INTEGER NOT NULL DEFAULT 0,
    test           INTEGER NOT NULL DEFAULT 0,
    gave_up        INTEGER NOT NULL DEFAULT 0,
    FOREIGN KEY (tenant_id, webhook_id) REFERENCES webhooks (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (tenant_id, webhook_id, id);
CREATE INDEX webhook_deliveries_at ON webhook_deliveries (at);

-- The audit trail (ip_changes, denied) and the event stream are
-- append-only in the database itself: no UPDATE ever, and a DELETE only of
-- rows more than a day old by the database's own clock (retention, which
-- is off unless configured, and never reaches the last day). The delivery
-- log is never updated.
CREATE TRIGGER ip_changes_no_update BEFORE UPDATE ON ip_changes
BEGIN SELECT RAISE(ABORT, 'proxyhub: ip_changes is append-only'); END;
CREATE TRIGGER ip_changes_no_recent_delete BEFORE DELETE ON ip_changes
WHEN OLD.at >= (unixepoch() - 86400) * 1000000000
BEGIN SELECT RAISE(ABORT, 'proxyhub: ip_changes of the last day are never deleted'); END;

CREATE TRIGGER denied_no_update BEFORE UPDATE ON denied
BEGIN SELECT RAISE(ABORT, 'proxyhub: denied is append-only'); END;
CREATE TRIGGER denied_no_recent_delete BEFORE DELETE ON denied
WHEN OLD.at >= (unixepoch() - 86400) * 1000000000
BEGIN SELECT RAISE(ABORT, 'proxyhub: denied records of the last day are never deleted'); END;

CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'proxyhub: events is append-only'); END;
CREATE TRIGGER events_no_recent_delete BEFORE DELETE ON events
WHEN OLD.at >= (unixepoch() - 86400) * 1000000000
BEGIN SELECT RAISE(ABORT, 'proxyhub: events of the last day are never deleted'); END;

CREATE TRIGGER webhook_deliveries_no_update BEFORE UPDATE ON webhook_deliveries
BEGIN SELECT RAISE(ABORT, 'proxyhub: webhook_deliveries is append-only'); END;
