-- 004: liveness (online/offline state, deadlines, pause, per-proxy timeout)
-- and the event stream.
--
-- Each proxy keeps its deadline: last_seen + its effective timeout. The
-- sweeper finds expired proxies through a partial index on the deadline of
-- online, unpaused proxies, so a sweep costs what expires, not the fleet.

-- proxyhub_timeout_ms is a proxy's effective offline timeout in
-- milliseconds: its own override, else its tenant's offline_after, else
-- 80 s (the embedded store's default). 0 and NULL both mean "not set".
CREATE FUNCTION proxyhub_timeout_ms(proxy_ms bigint, tenant_ms bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT coalesce(nullif(proxy_ms, 0), nullif(tenant_ms, 0), 80000) $$;

ALTER TABLE proxies
    -- What the sweeper last decided; a heartbeat always makes it 'online'.
    ADD COLUMN state text NOT NULL DEFAULT 'online' CHECK (state IN ('online', 'offline')),
    -- Maintenance: no flips, no alerts; heartbeats are still recorded.
    ADD COLUMN paused boolean NOT NULL DEFAULT false,
    -- The proxy's own timeout; NULL follows the tenant's offline_after.
    ADD COLUMN offline_after_ms bigint CHECK (offline_after_ms > 0),
    -- The effective timeout, proxyhub_timeout_ms(offline_after_ms, the
    -- tenant's offline_after_ms), kept in the row by the store (UpdateTenant
    -- rewrites it for the proxies that follow the tenant). A heartbeat
    -- computes its deadline from the row it locked, never from the tenants
    -- table, whose value its statement may read from an older snapshot.
    ADD COLUMN timeout_ms bigint NOT NULL DEFAULT 80000 CHECK (timeout_ms > 0),
    -- greatest(last_seen, resumed at) + timeout: without another heartbeat
    -- the proxy goes offline when this has passed (at the deadline itself
    -- it is still online).
    ADD COLUMN deadline timestamptz;

-- Fill the new columns of existing proxies. Row-level security (002) would
-- hide every row from this cross-tenant update, so it is lifted for the
-- owner for the length of this transaction only (DDL is transactional).
-- Proxies already silent past their deadline start offline, without an
-- event: they went offline before the event stream existed.
ALTER TABLE proxies NO FORCE ROW LEVEL SECURITY;
ALTER TABLE tenants NO FORCE ROW LEVEL SECURITY;
UPDATE proxies p
   SET timeout_ms = proxyhub_timeout_ms(NULL, t.offline_after_ms),
       deadline = p.last_seen + proxyhub_timeout_ms(NULL, t.offline_after_ms) * interval '1 millisecond',
       state = CASE WHEN p.last_seen + proxyhub_timeout_ms(NULL, t.offline_after_ms) * interval '1 millisecond' < now()
                    THEN 'offline' ELSE 'online' END
  FROM tenants t
 WHERE t.id = p.tenant_id;
ALTER TABLE proxies FORCE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
ALTER TABLE proxies ALTER COLUMN deadline SET NOT NULL;

-- The sweeper's index: only online, unpaused proxies are in it, ordered by
-- deadline, so finding the expired ones (deadline < now, earliest first)
-- reads those and nothing else, and NextDeadline is its first entry.
--
-- The price: a heartbeat that moves last_seen moves the deadline, an
-- indexed column, so the update is no longer HOT (001 kept it HOT by
-- indexing none of the columns a heartbeat changes): every heartbeat now
-- writes an entry into this index and the primary key. The store's
-- benchmarks measure what that costs (see the PostgreSQL store's
-- bench_test.go).
CREATE INDEX proxies_due ON proxies (deadline) WHERE state = 'online' AND NOT paused;

-- The event stream of each tenant: what happened to its proxies.
-- Append-only, like the audit trail (see below).
--
-- Ordering: readers follow a tenant's stream by id ("events after id X":
-- the webhook dispatcher's cursor, SSE's Last-Event-ID), so within one
-- tenant events must become visible in id order: an event must never
-- commit after a higher id of the same tenant is visible, or a reader that
-- has passed that higher id skips it forever. Identity values are drawn
-- when a row is inserted, not when its transaction commits, so two
-- concurrent writers could commit out of order. Every transaction that
-- appends events therefore first calls proxyhub_lock_event_streams (below)
-- with all the tenants it will append to, which takes a per-tenant lock
-- held until commit, and only then inserts (draws ids). Writers of one
-- tenant's stream are thereby serialized: the next one draws its ids only
-- after the previous one committed, so its ids are higher and the lower
-- ones are already visible. The identity's sequence must keep CACHE 1 (the
-- default): with a per-session cache, ids would not follow the order in
-- which they are drawn. Most heartbeats append nothing and take no lock.
CREATE TABLE events (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id text COLLATE "C" NOT NULL REFERENCES tenants (id),
    type      text NOT NULL CHECK (type IN ('registered', 'ip_changed', 'offline', 'online', 'denied')),
    proxy     text COLLATE "C" NOT NULL DEFAULT '',
    at        timestamptz NOT NULL, -- when it happened; for offline, the deadline
    old_ip    inet,                 -- ip_changed: the previous IP
    new_ip    inet                  -- the current IP; denied: the refused one
);
CREATE INDEX events_tenant ON events (tenant_id, id);
CREATE INDEX events_proxy ON events (tenant_id, proxy, id);

-- proxyhub_lock_event_streams takes the event-stream lock of each of the
-- tenants, held until the transaction ends, and queues a notification on
-- channel proxyhub_events for each (delivered at commit; the payload is the
-- tenant id and nothing else, since any session may LISTEN). A transaction
-- calls it once, with every tenant it will append events to, before its
-- first event insert.
--
-- The locks are transaction-level advisory locks in a key space of their
-- own (the two-int form, first key 1885889910 = 'phev'), keyed by
-- hashtext(tenant id) (two tenants may share a key: they then share a
-- lock, which costs nothing but some concurrency), and taken in ascending
-- key order. Every transaction takes all of its event locks in one call,
-- in that order, after every row lock it needs (heartbeats take them after
-- locking their proxies; the sweeper's proxy locks are SKIP LOCKED, never
-- waited for); so no two writers wait for each other in a cycle.
CREATE FUNCTION proxyhub_lock_event_streams(tenant_ids text[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    k integer;
    t text;
BEGIN
    FOR k IN SELECT DISTINCT hashtext(x) FROM unnest(tenant_ids) AS x ORDER BY 1 LOOP
        PERFORM pg_advisory_xact_lock(1885889910, k);
    END LOOP;
    FOR t IN SELECT DISTINCT x FROM unnest(tenant_ids) AS x LOOP
        PERFORM pg_notify('proxyhub_events', t);
    END LOOP;
END
$$;

-- Row-level security as for every tenant table, plus the sweeper's scope.
--
--   proxyhub.scope = 'sweeper': the platform-level sweep (ExpireProxies,
--   NextDeadline). It may read every proxy, update only online, unpaused
--   proxies and only into offline ones, and append only offline events
--   (and read those, for INSERT … RETURNING). It sees no other table.
ALTER TABLE events ENABLE ROW LEVEL SECURITY;
ALTER TABLE events FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON events
    USING (tenant_id = current_setting('proxyhub.tenant', true))
    WITH CHECK (tenant_id = current_setting('proxyhub.tenant', true));
CREATE POLICY sweeper_insert ON events FOR INSERT
    WITH CHECK (current_setting('proxyhub.scope', true) = 'sweeper' AND type = 'offline');
CREATE POLICY sweeper_read ON events FOR SELECT
    USING (current_setting('proxyhub.scope', true) = 'sweeper' AND type = 'offline');

CREATE POLICY sweeper_read ON proxies FOR SELECT
    USING (current_setting('proxyhub.scope', true) = 'sweeper');
CREATE POLICY sweeper_flip ON proxies FOR UPDATE
    USING (current_setting('proxyhub.scope', true) = 'sweeper' AND state = 'online' AND NOT paused)
    WITH CHECK (current_setting('proxyhub.scope', true) = 'sweeper' AND state = 'offline');

-- Append-only, with the same two locks as the audit trail (003).
REVOKE UPDATE, DELETE, TRUNCATE ON events FROM PUBLIC, CURRENT_USER;
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION proxyhub_refuse_audit_change();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION proxyhub_refuse_audit_change();
