-- 008: history retention (PROXYHUB_HISTORY_RETENTION; off by default).
--
-- The history tables (ip_changes, denied, events, webhook_deliveries) stay
-- append-only: UPDATE and TRUNCATE remain revoked and refused by their
-- triggers. A DELETE is let through by the triggers only when both hold:
--
--   - the transaction is in the 'retention' scope (proxyhub.scope), which
--     only the store's PruneHistory sets, on the hub that leads retention;
--   - the row's time (its at, as recorded) is more than a day before the
--     database's now().
--
-- So no setting, bug or stolen connection of the application can remove a
-- record whose time is within the last day, nor change any record. (at is
-- the application's time of the fact: a heartbeat's arrival, an offline
-- flip's deadline; retention, like every audit query, goes by it.) DELETE is granted back
-- to the owner for this path (the triggers are the lock that remains).
--
-- BRIN indexes on at let a prune find old rows without an index on the
-- write path worth the name: a BRIN index is a few pages, updated when a
-- new block range fills.

CREATE INDEX ip_changes_at ON ip_changes USING brin (at);
CREATE INDEX denied_at ON denied USING brin (at);
CREATE INDEX events_at ON events USING brin (at);
CREATE INDEX webhook_deliveries_at ON webhook_deliveries USING brin (at);

CREATE FUNCTION proxyhub_retention_may_delete(at timestamptz) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT current_setting('proxyhub.scope', true) = 'retention' AND at < now() - interval '1 day'
$$;

CREATE OR REPLACE FUNCTION proxyhub_refuse_audit_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF proxyhub_retention_may_delete(OLD.at) THEN
            RETURN OLD;
        END IF;
    END IF;
    RAISE EXCEPTION 'proxyhub: % is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE OR REPLACE FUNCTION proxyhub_refuse_delivery_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF pg_trigger_depth() > 1 THEN
            RETURN OLD; -- the cascade of a webhook's deletion
        END IF;
        IF proxyhub_retention_may_delete(OLD.at) THEN
            RETURN OLD;
        END IF;
    END IF;
    RAISE EXCEPTION 'proxyhub: % is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

GRANT DELETE ON ip_changes, denied, events TO CURRENT_USER;

-- Row-level security: the 'retention' scope sees and deletes rows of every
-- tenant in these tables, nothing else anywhere.
CREATE POLICY retention_read ON ip_changes FOR SELECT USING (current_setting('proxyhub.scope', true) = 'retention');
CREATE POLICY retention_delete ON ip_changes FOR DELETE USING (current_setting('proxyhub.scope', true) = 'retention');
CREATE POLICY retention_read ON denied FOR SELECT USING (current_setting('proxyhub.scope', true) = 'retention');
CREATE POLICY retention_delete ON denied FOR DELETE USING (current_setting('proxyhub.scope', true) = 'retention');
CREATE POLICY retention_read ON events FOR SELECT USING (current_setting('proxyhub.scope', true) = 'retention');
CREATE POLICY retention_delete ON events FOR DELETE USING (current_setting('proxyhub.scope', true) = 'retention');
CREATE POLICY retention_read ON webhook_deliveries FOR SELECT USING (current_setting('proxyhub.scope', true) = 'retention');
CREATE POLICY retention_delete ON webhook_deliveries FOR DELETE USING (current_setting('proxyhub.scope', true) = 'retention');
