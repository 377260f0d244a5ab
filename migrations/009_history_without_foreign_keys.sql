-- 009: the hot history tables (ip_changes, events) drop their foreign key
-- to tenants.
--
-- Every row a heartbeat appends to them ran the foreign key's check: a
-- query per row that also share-locked the tenant's row, so concurrent
-- heartbeat batches of a tenant piled their locks on that one row (multixact
-- churn) for a check that could not fail: the rows are written from the
-- tenant's own proxies (which keep their foreign key) or by the sweeper
-- from them, and tenants are never deleted. (denied keeps its key: it is
-- written without a proxy row, and rarely.) Measured with perf on the
-- heartbeat benchmark: the checks were about 4 % of PostgreSQL's CPU.
ALTER TABLE ip_changes DROP CONSTRAINT ip_changes_tenant_id_fkey;
ALTER TABLE events DROP CONSTRAINT events_tenant_id_fkey;
