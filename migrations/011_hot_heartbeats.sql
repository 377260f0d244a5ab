-- 011: heartbeats become HOT updates.
--
-- proxies_due indexed the deadline, which every heartbeat moves, so no
-- heartbeat's UPDATE could be HOT: each wrote a new heap tuple plus an
-- entry in proxies_due and in the primary key. The sweeper now finds
-- proxies by check_at, the time it next looks at one, which is never
-- after its deadline: heartbeats move only the deadline (indexed by
-- nothing, so their updates are HOT on the fillfactor-70 pages), and the
-- sweeper, at check_at, either flips a proxy whose deadline has passed or
-- moves its check_at up to its deadline. A proxy heartbeating every minute
-- with an 80 s timeout costs one such move per timeout, in the sweeper's
-- batched statement, instead of an index write per heartbeat.
--
-- Every writer that can move a deadline earlier (a shorter timeout) or
-- put a proxy into the index (created, back online, resumed) sets
-- check_at to the deadline.
ALTER TABLE proxies ADD COLUMN check_at timestamptz;
UPDATE proxies SET check_at = deadline;
ALTER TABLE proxies ALTER COLUMN check_at SET NOT NULL;

DROP INDEX proxies_due;
CREATE INDEX proxies_due ON proxies (check_at) WHERE state = 'online' AND NOT paused;

-- The sweeper may flip a proxy offline, or move its check_at to its
-- deadline; nothing else.
DROP POLICY sweeper_flip ON proxies;
CREATE POLICY sweeper_flip ON proxies FOR UPDATE
    USING (current_setting('proxyhub.scope', true) = 'sweeper')
    WITH CHECK (current_setting('proxyhub.scope', true) = 'sweeper' AND (state = 'offline' OR check_at = deadline));
