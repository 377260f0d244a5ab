-- Status badges: a key (stored hashed) that shows one proxy's or a
-- tenant's state in a word, to whoever holds it.
CREATE TABLE badges (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    proxy      TEXT NOT NULL DEFAULT '', -- '' = the whole tenant
    label      TEXT NOT NULL,
    key_hash   TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER,
    seq        INTEGER NOT NULL -- creation order
);
CREATE INDEX badges_tenant ON badges (tenant_id, seq);
