-- 012: status badges. A badge's key (stored hashed) shows one proxy's or a
-- tenant's state in a word to whoever holds it; the key is looked up
-- before the tenant is known, in a scope that sees only that one badge
-- (proxyhub.badge_key_hash), as heartbeat tokens are.
CREATE TABLE badges (
    id         text PRIMARY KEY,
    tenant_id  text NOT NULL REFERENCES tenants (id),
    proxy      text NOT NULL DEFAULT '', -- '' = the whole tenant
    label      text NOT NULL,
    key_hash   text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL,
    revoked_at timestamptz
);
CREATE INDEX badges_tenant ON badges (tenant_id, created_at);

ALTER TABLE badges ENABLE ROW LEVEL SECURITY;
ALTER TABLE badges FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON badges
    USING (tenant_id = current_setting('proxyhub.tenant', true))
    WITH CHECK (tenant_id = current_setting('proxyhub.tenant', true));
CREATE POLICY lookup_by_key ON badges FOR SELECT
    USING (key_hash = current_setting('proxyhub.badge_key_hash', true));
