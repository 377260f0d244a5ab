-- 014: maintenance windows. Notifications about the proxies a window
-- covers are held back while it is active; the dispatcher records in
-- followed_up_to the end of the latest occurrence whose still-offline
-- proxies it alerted.
CREATE TABLE maintenance_windows (
    tenant_id      text NOT NULL REFERENCES tenants (id),
    id             text NOT NULL,
    label          text NOT NULL DEFAULT '',
    proxy          text NOT NULL DEFAULT '',   -- one proxy; '' with pattern '': every proxy
    pattern        text NOT NULL DEFAULT '',   -- name pattern (edge-*)
    start_at       timestamptz,                -- one-off windows
    end_at         timestamptz,
    cron           text NOT NULL DEFAULT '',   -- recurring windows
    duration_ms    bigint NOT NULL DEFAULT 0,
    time_zone      text NOT NULL DEFAULT '',
    ended_at       timestamptz,                -- ended early
    created_at     timestamptz NOT NULL,
    followed_up_to timestamptz NOT NULL,
    seq            bigint GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY (tenant_id, id)
);

ALTER TABLE maintenance_windows ENABLE ROW LEVEL SECURITY;
ALTER TABLE maintenance_windows FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON maintenance_windows
    USING (tenant_id = current_setting('proxyhub.tenant', true))
    WITH CHECK (tenant_id = current_setting('proxyhub.tenant', true));
