-- 013: a notification target's non-secret settings (a Telegram chat id, a
-- Matrix room, an Opsgenie region…), as a JSON object of strings. The
-- kind's credential (a bot token, a routing key) is kept sealed in secret.
ALTER TABLE webhooks ADD COLUMN settings jsonb NOT NULL DEFAULT '{}';
