-- Maintenance windows (times as Unix nanoseconds).
CREATE TABLE maintenance_windows (
    tenant_id      TEXT NOT NULL REFERENCES tenants (id),
    id             TEXT NOT NULL,
    label          TEXT NOT NULL DEFAULT '',
    proxy          TEXT NOT NULL DEFAULT '',
    pattern        TEXT NOT NULL DEFAULT '',
    start_at       INTEGER,
    end_at         INTEGER,
    cron           TEXT NOT NULL DEFAULT '',
    duration_ms    INTEGER NOT NULL DEFAULT 0,
    time_zone      TEXT NOT NULL DEFAULT '',
    ended_at       INTEGER,
    created_at     INTEGER NOT NULL,
    followed_up_to INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
