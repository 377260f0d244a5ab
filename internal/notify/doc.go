// Package notify delivers a tenant's event stream (registered, ip_changed,
// offline, online, denied) to its webhooks: generic JSON signed per the
// Standard Webhooks scheme, Slack incoming webhooks, and plain-text email.
//
// # The outbox is the event stream
//
// There is no outbox table. Events are append-only with increasing ids, and
// every webhook keeps a Cursor: the id of the last event it was given (or
// given up on). A webhook is due when its tenant has events after its
// Cursor and its NextAttemptAt has passed (hub.DueWebhooks). For each due
// webhook the Dispatcher
//
//  1. reads the tenant's newest event id, the bound of this pass;
//  2. scans the events after Cursor and up to the bound, filtered by the
//     webhook's types, at most Config.BatchMax of them, oldest first;
//  3. sends them as one message: a batch of one is a plain message, a batch
//     of many a digest (counts per type, the first 10 names per type);
//  4. on success records a Delivery and moves Cursor to the bound (every
//     event up to it was scanned, so the non-matching ones are passed too),
//     or to the batch's last event when the batch was full; on failure
//     records a Delivery, counts the Attempt and schedules the retry with
//     exponential backoff (10 s doubling to 1 h, ±10 % jitter); once the
//     failures have lasted Config.GiveUpAfter (25 h) the batch is recorded
//     as given up and Cursor moves past it.
//
// When the filtered scan finds nothing, Cursor moves to the bound read in
// step 1, never to a newer id read later, so an event appended during the
// pass is never skipped.
//
// A retry resends exactly the batch that failed, under the same
// webhook-id: the failed Delivery records the batch's last event id, and
// the retry scans only up to it. Events that arrived meanwhile wait for the
// next message. Because all of this state is in the store (Cursor, Attempt,
// NextAttemptAt, FailingSince and the delivery log), a restart, or another
// instance taking over the leadership, loses no pending delivery; at worst
// a message is sent twice with the same webhook-id (at-least-once), which
// receivers de-duplicate.
//
// # Storms
//
// After every message (sent or failed) the webhook is not due again for
// Config.MinInterval (2 s), so events arriving meanwhile are grouped into
// the next message. The flips of one sweep are appended together and so
// land in one batch, as long as BatchMax is at least the sweep's size.
//
// # SSRF
//
// Webhook URLs are checked for shape when they are saved (ValidateURL) and
// for destination when they are used: GuardedClient resolves the host,
// refuses loopback, private, link-local (cloud metadata), CGNAT, multicast,
// unspecified and reserved addresses (also when embedded in IPv6), dials
// only the address it checked, and does not follow redirects, unless
// Config.AllowPrivate (PROXYHUB_WEBHOOK_ALLOW_PRIVATE) is set.
//
// Secrets, signatures, webhook URLs (a Slack URL is a credential) and the
// SMTP password are never logged, and the error text kept in the delivery
// log is short and carries none of them.
package notify
