-- 006: the sweeper's UPDATE policy on proxies names no column (004 fixed).
--
-- Permissive policies of a command are OR'ed, so 004's
--
--     sweeper_flip USING (scope = 'sweeper' AND state = 'online' AND NOT paused)
--
-- was OR'ed with tenant_isolation into the row-level security condition of
-- every UPDATE of proxies, every heartbeat's included. Its branch on
-- (state, paused) matches the partial index proxies_due, and the planner
-- answered heartbeats with a BitmapOr over the primary key and proxies_due
-- (every online proxy of every tenant) instead of one primary-key probe per
-- name: heartbeats 60 times slower, measured.
--
-- The restriction to online, unpaused proxies moves to a RESTRICTIVE
-- policy. Restrictive policies are AND'ed with the permissive ones, and
-- this one is an OR whose first branch is a setting, which no index can
-- serve; the permissive policy keeps only the scope. What the sweeper's
-- scope may do is unchanged: update only online, unpaused proxies, only
-- into offline ones.
DROP POLICY sweeper_flip ON proxies;
CREATE POLICY sweeper_flip ON proxies FOR UPDATE
    USING (current_setting('proxyhub.scope', true) = 'sweeper')
    WITH CHECK (current_setting('proxyhub.scope', true) = 'sweeper' AND state = 'offline');
CREATE POLICY sweeper_flips_only_online ON proxies AS RESTRICTIVE FOR UPDATE
    USING (current_setting('proxyhub.scope', true) IS DISTINCT FROM 'sweeper' OR (state = 'online' AND NOT paused))
    -- The new row is sweeper_flip's business; without a WITH CHECK of its
    -- own, an UPDATE policy checks the new row with USING too.
    WITH CHECK (true);
