package postgres

import (
	"maps"
	"net/netip"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/proxyhub/proxyhub/internal/hub"
)

// Appending events.
//
// Readers follow a tenant's event stream by id (the webhook dispatcher's
// cursor, SSE's Last-Event-ID: "events after id X"), so within one tenant
// events must become visible in id order; ids are drawn at insert, not at
// commit, so two concurrent writers of one tenant could otherwise commit
// out of order and a reader that has seen the higher id would skip the
// lower one for ever. Every transaction that appends events therefore
// first calls proxyhub_lock_event_streams (migrations/004) with all the
// tenants it appends to: it takes a per-tenant advisory lock held until
// commit (in ascending key order, all in one call), and queues a NOTIFY
// per tenant. Only then are the events inserted, so their ids are drawn
// after the previous writer of the tenant committed. Transactions that
// append nothing (most heartbeats) take no such lock.
//
// Lock order: a writer takes its event-stream locks after every row lock
// it may have to wait for (a heartbeat batch in its commit pipeline, once
// all its proxies are locked; the sweeper after locking proxies with SKIP
// LOCKED, which never waits), and all of them in one call, in key order.
// The only locks a batch takes after them are its tokens' rows, whose
// holders are past their own event locks or take none (TouchToken). So no
// two transactions can wait for each other in a cycle.

// lockEventStreamsSQL takes the event-stream locks of the tenants ($1) and
// queues their notifications.
const lockEventStreamsSQL = `SELECT proxyhub_lock_event_streams($1::text[])`

// insertEventsSQL appends events of one tenant ($1), in the arrays' order.
const insertEventsSQL = `
INSERT INTO events (tenant_id, type, proxy, at, old_ip, new_ip)
SELECT $1, e.type, e.proxy, e.at, e.old_ip, e.new_ip
  FROM unnest($2::text[], $3::text[], $4::timestamptz[], $5::inet[], $6::inet[])
       WITH ORDINALITY AS e (type, proxy, at, old_ip, new_ip, ord)
 ORDER BY e.ord`

// newEvent is an event to append (its tenant is known from context).
type newEvent struct {
	typ          hub.EventType
	proxy        string
	at           time.Time
	oldIP, newIP netip.Addr
}

// queueAppendEvents adds to b, inside a transaction, the statements that
// append events (tenant → events in order): the event-stream locks of all
// the tenants first, then per tenant its scope and its events. The scope
// of the last tenant remains set.
func queueAppendEvents(b *pgx.Batch, events map[string][]newEvent) {
	if len(events) == 0 {
		return
	}
	tenants := slices.Sorted(maps.Keys(events))
	b.Queue(lockEventStreamsSQL, tenants).Exec(ignoreTag)
	for _, tenant := range tenants {
		evs := events[tenant]
		n := len(evs)
		types, proxies, ats := make([]string, n), make([]string, n), make([]time.Time, n)
		olds, news := make([]netip.Addr, n), make([]netip.Addr, n)
		for i, e := range evs {
			types[i], proxies[i], ats[i], olds[i], news[i] = string(e.typ), e.proxy, e.at, e.oldIP, e.newIP
		}
		tenantScope(tenant).queue(b)
		b.Queue(insertEventsSQL, tenant, types, proxies, ats, olds, news).Exec(ignoreTag)
	}
}

const eventColumns = `id, tenant_id, type, proxy, at, old_ip, new_ip`

func scanEvent(row pgx.Row) (hub.Event, error) {
	var e hub.Event
	var typ string
	err := row.Scan(&e.ID, &e.TenantID, &typ, &e.Proxy, &e.At, &e.OldIP, &e.NewIP)
	e.Type, e.At = hub.EventType(typ), e.At.UTC()
	return e, err
}
