-- 001: the tables of the PostgreSQL store.
--
-- Every table carries the tenant (tenants.id, elsewhere tenant_id) and every
-- query the store sends filters on it; row-level security (002) is the
-- second lock. Identifiers and names use the "C" collation so that sorting
-- and keyset cursors are bytewise, exactly as in the embedded store.
-- Optional values (times, the peer IP) are NULL when unset; optional strings
-- are ''.

CREATE TABLE tenants (
    id               text COLLATE "C" PRIMARY KEY CHECK (id <> ''),
    name             text NOT NULL,
    offline_after_ms bigint NOT NULL CHECK (offline_after_ms >= 0),
    max_proxies      integer NOT NULL CHECK (max_proxies >= 0),
    auto_register    boolean NOT NULL,
    allowlist        cidr[] NOT NULL DEFAULT '{}',
    admin_allowlist  cidr[] NOT NULL DEFAULT '{}',
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    -- proxy_count is the number of rows in proxies for this tenant, kept
    -- exact by the trigger below; the quota check reads it under the row's
    -- lock instead of counting.
    proxy_count      integer NOT NULL DEFAULT 0 CHECK (proxy_count >= 0)
);

-- Heartbeat tokens: only the hex SHA-256 of the secret is kept.
CREATE TABLE heartbeat_tokens (
    tenant_id     text COLLATE "C" NOT NULL REFERENCES tenants (id),
    id            text COLLATE "C" NOT NULL,
    label         text NOT NULL,
    hash          text NOT NULL,
    proxy         text COLLATE "C" NOT NULL DEFAULT '', -- '' = any proxy
    allowed_cidrs cidr[] NOT NULL DEFAULT '{}',          -- {} = any source
    expires_at    timestamptz,
    created_at    timestamptz NOT NULL,
    last_used_at  timestamptz,
    revoked_at    timestamptz,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX heartbeat_tokens_hash ON heartbeat_tokens (hash);

-- Admin API credentials (OAuth2 client credentials): only the secret's hash
-- is kept. The client id is unique across tenants: authentication finds the
-- credential, and so the tenant, by it.
CREATE TABLE admin_credentials (
    id           text COLLATE "C" PRIMARY KEY,
    tenant_id    text COLLATE "C" NOT NULL REFERENCES tenants (id),
    role         text NOT NULL,
    label        text NOT NULL,
    secret_hash  text NOT NULL,
    created_at   timestamptz NOT NULL,
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX admin_credentials_tenant ON admin_credentials (tenant_id, created_at);

-- The current state of each proxy.
CREATE TABLE proxies (
    tenant_id  text COLLATE "C" NOT NULL REFERENCES tenants (id),
    name       text COLLATE "C" NOT NULL,
    ip         inet NOT NULL,  -- resolved client IP of the latest heartbeat
    peer_ip    inet,           -- raw socket peer of the latest heartbeat
    created_at timestamptz NOT NULL,
    last_seen  timestamptz NOT NULL,
    ip_changes bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, name)
) WITH (fillfactor = 70);
-- Every heartbeat updates its proxy's row. No index covers the columns a
-- heartbeat changes (ip, peer_ip, last_seen, ip_changes), so the update is
-- HOT: a new row version on the same page (fillfactor leaves room) and no
-- index writes. Keep it so: an index on last_seen (for offline detection)
-- would make every heartbeat write index entries.

-- The IP-change history: append-only (003).
CREATE TABLE ip_changes (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id  text COLLATE "C" NOT NULL REFERENCES tenants (id),
    proxy      text COLLATE "C" NOT NULL,
    old_ip     inet NOT NULL,
    new_ip     inet NOT NULL,
    at         timestamptz NOT NULL,
    token_id   text NOT NULL DEFAULT '',
    request_id text NOT NULL DEFAULT ''
);
CREATE INDEX ip_changes_tenant ON ip_changes (tenant_id, id DESC);
CREATE INDEX ip_changes_proxy ON ip_changes (tenant_id, proxy, id DESC);
CREATE INDEX ip_changes_old_ip ON ip_changes (tenant_id, old_ip, id DESC);
CREATE INDEX ip_changes_new_ip ON ip_changes (tenant_id, new_ip, id DESC);

-- Heartbeats refused by policy: append-only (003).
CREATE TABLE denied (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id  text COLLATE "C" NOT NULL REFERENCES tenants (id),
    proxy      text COLLATE "C" NOT NULL DEFAULT '',
    ip         inet NOT NULL,
    at         timestamptz NOT NULL,
    token_id   text NOT NULL DEFAULT '',
    request_id text NOT NULL DEFAULT '',
    reason     text NOT NULL DEFAULT ''
);
CREATE INDEX denied_tenant ON denied (tenant_id, id DESC);
CREATE INDEX denied_proxy ON denied (tenant_id, proxy, id DESC);
CREATE INDEX denied_ip ON denied (tenant_id, ip, id DESC);

-- tenants.proxy_count follows every insert and delete of proxies, whatever
-- sends it: once per statement, from the statement's transition table. The
-- update also takes the tenant row's lock, which serializes proxy creation
-- within a tenant (see the store's batchtx.go).
CREATE FUNCTION proxyhub_count_proxies() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE tenants t SET proxy_count = t.proxy_count + n.count
          FROM (SELECT tenant_id, count(*) AS count FROM new_proxies GROUP BY tenant_id) n
         WHERE t.id = n.tenant_id;
    ELSE
        UPDATE tenants t SET proxy_count = t.proxy_count - n.count
          FROM (SELECT tenant_id, count(*) AS count FROM old_proxies GROUP BY tenant_id) n
         WHERE t.id = n.tenant_id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER proxies_count_insert AFTER INSERT ON proxies
    REFERENCING NEW TABLE AS new_proxies
    FOR EACH STATEMENT EXECUTE FUNCTION proxyhub_count_proxies();
CREATE TRIGGER proxies_count_delete AFTER DELETE ON proxies
    REFERENCING OLD TABLE AS old_proxies
    FOR EACH STATEMENT EXECUTE FUNCTION proxyhub_count_proxies();
