-- A notification target's non-secret settings (a Telegram chat id, a
-- Matrix room, an Opsgenie region…), as a JSON object of strings.
ALTER TABLE webhooks ADD COLUMN settings TEXT NOT NULL DEFAULT '{}';
