-- 002: row-level security, the second lock behind the store's own
-- "WHERE tenant_id = $1".
--
-- The store scopes each transaction with set_config(name, value, true)
-- (transaction-local) and the policies below show a row only when it
-- matches that scope:
--
--   proxyhub.tenant       = a tenant id: that tenant's rows, read and write.
--   proxyhub.token_hash   = a token hash: that one token, read-only
--                           (TokenByHash authenticates before the tenant is
--                           known).
--   proxyhub.credential_id = a client id: that one credential, read-only
--                           (CredentialByID).
--   proxyhub.scope        = 'platform': every tenant row, read-only
--                           (ListTenants).
--
-- A transaction that set none of them sees and changes nothing.
-- FORCE ROW LEVEL SECURITY applies the policies to the tables' owner too,
-- which is the role the store connects as (it ran these migrations).
-- Superusers and BYPASSRLS roles are never subject to row-level security:
-- the store must connect as an ordinary role (it logs a warning otherwise).

ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenants
    USING (id = current_setting('proxyhub.tenant', true))
    WITH CHECK (id = current_setting('proxyhub.tenant', true));
CREATE POLICY platform_read ON tenants FOR SELECT
    USING (current_setting('proxyhub.scope', true) = 'platform');

ALTER TABLE heartbeat_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE heartbeat_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON heartbeat_tokens
    USING (tenant_id = current_setting('proxyhub.tenant', true))
    WITH CHECK (tenant_id = current_setting('proxyhub.tenant', true));
CREATE POLICY lookup_by_hash ON heartbeat_tokens FOR SELECT
    USING (hash = current_setting('proxyhub.token_hash', true));

ALTER TABLE admin_credentials ENABLE ROW LEVEL SECURITY;
ALTER TABLE admin_credentials FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON admin_credentials
    USING (tenant_id = current_setting('proxyhub.tenant', true))
    WITH CHECK (tenant_id = current_setting('proxyhub.tenant', true));
CREATE POLICY lookup_by_id ON admin_credentials FOR SELECT
    USING (id = current_setting('proxyhub.credential_id', true));

ALTER TABLE proxies ENABLE ROW LEVEL SECURITY;
ALTER TABLE proxies FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON proxies
    USING (tenant_id = current_setting('proxyhub.tenant', true))
    WITH CHECK (tenant_id = current_setting('proxyhub.tenant', true));

ALTER TABLE ip_changes ENABLE ROW LEVEL SECURITY;
ALTER TABLE ip_changes FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON ip_changes
    USING (tenant_id = current_setting('proxyhub.tenant', true))
    WITH CHECK (tenant_id = current_setting('proxyhub.tenant', true));

ALTER TABLE denied ENABLE ROW LEVEL SECURITY;
ALTER TABLE denied FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON denied
    USING (tenant_id = current_setting('proxyhub.tenant', true))
    WITH CHECK (tenant_id = current_setting('proxyhub.tenant', true));
