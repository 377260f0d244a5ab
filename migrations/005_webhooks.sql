-- 005: webhooks (notification targets) and their delivery log.

CREATE TABLE webhooks (
    tenant_id       text COLLATE "C" NOT NULL REFERENCES tenants (id),
    id              text COLLATE "C" NOT NULL,
    seq             bigint GENERATED ALWAYS AS IDENTITY, -- creation order: ListWebhooks is oldest first
    kind            text NOT NULL,                       -- generic, slack or email
    url             text NOT NULL,
    events          text[] NOT NULL DEFAULT '{}',        -- event types delivered; {} = all
    enabled         boolean NOT NULL,
    -- The signing secret is a shared HMAC key (Standard Webhooks): the hub
    -- signs every generic delivery with it, so it is kept as given, not
    -- hashed. Anyone who can read this table (the store's role, a backup)
    -- can forge deliveries to this webhook's receiver.
    secret          text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    -- The dispatcher's delivery state: the id of the last event delivered
    -- (or given up on) and the retry state of the batch after it. A new
    -- webhook's cursor is its tenant's newest event id.
    cursor_id       bigint NOT NULL DEFAULT 0,
    attempt         integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    failing_since   timestamptz,
    PRIMARY KEY (tenant_id, id)
);

-- The delivery log: one row per attempt. Append-only like the audit trail,
-- with one exception: deleting a webhook deletes its log (ON DELETE
-- CASCADE), since a log of a target that no longer exists has no reader.
-- UPDATE and TRUNCATE are revoked, and a trigger refuses UPDATE, TRUNCATE
-- and any DELETE that is not that cascade (a direct DELETE runs the
-- trigger at depth 1; the cascade runs it from the foreign key's trigger,
-- at depth 2). DELETE stays granted to the owner because the cascade runs
-- with the owner's privileges.
CREATE TABLE webhook_deliveries (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id      text COLLATE "C" NOT NULL,
    webhook_id     text COLLATE "C" NOT NULL,
    at             timestamptz NOT NULL,
    attempt        integer NOT NULL,
    status_code    integer NOT NULL DEFAULT 0, -- 0: no HTTP status (network error, email)
    error          text NOT NULL DEFAULT '',   -- '' on success
    first_event_id bigint NOT NULL DEFAULT 0,
    last_event_id  bigint NOT NULL DEFAULT 0,
    events         integer NOT NULL DEFAULT 0,
    test           boolean NOT NULL DEFAULT false,
    gave_up        boolean NOT NULL DEFAULT false,
    FOREIGN KEY (tenant_id, webhook_id) REFERENCES webhooks (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (tenant_id, webhook_id, id);

REVOKE UPDATE, TRUNCATE ON webhook_deliveries FROM PUBLIC, CURRENT_USER;

CREATE FUNCTION proxyhub_refuse_delivery_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND pg_trigger_depth() > 1 THEN
        RETURN OLD; -- the cascade of a webhook's deletion
    END IF;
    RAISE EXCEPTION 'proxyhub: % is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER webhook_deliveries_append_only BEFORE UPDATE OR DELETE ON webhook_deliveries
    FOR EACH ROW EXECUTE FUNCTION proxyhub_refuse_delivery_change();
CREATE TRIGGER webhook_deliveries_no_truncate BEFORE TRUNCATE ON webhook_deliveries
    FOR EACH STATEMENT EXECUTE FUNCTION proxyhub_refuse_delivery_change();

-- Row-level security as for every tenant table, plus the dispatcher's
-- scope:
--
--   proxyhub.scope = 'dispatcher': DueWebhooks, which runs on the leader
--   only and looks across tenants. Read-only: every webhook, and the
--   events (to tell whether a webhook has any after its cursor). Writes of
--   the dispatcher (delivery state, the log) run in the tenant's scope.
ALTER TABLE webhooks ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhooks FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON webhooks
    USING (tenant_id = current_setting('proxyhub.tenant', true))
    WITH CHECK (tenant_id = current_setting('proxyhub.tenant', true));
CREATE POLICY dispatcher_read ON webhooks FOR SELECT
    USING (current_setting('proxyhub.scope', true) = 'dispatcher');

ALTER TABLE webhook_deliveries ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_deliveries FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON webhook_deliveries
    USING (tenant_id = current_setting('proxyhub.tenant', true))
    WITH CHECK (tenant_id = current_setting('proxyhub.tenant', true));

CREATE POLICY dispatcher_read ON events FOR SELECT
    USING (current_setting('proxyhub.scope', true) = 'dispatcher');
