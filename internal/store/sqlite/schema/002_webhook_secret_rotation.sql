-- A rotation keeps the signing secret it replaces (sealed, like secret)
-- and until when deliveries are still signed with it (Unix nanoseconds).
ALTER TABLE webhooks ADD COLUMN previous_secret TEXT NOT NULL DEFAULT '';
ALTER TABLE webhooks ADD COLUMN previous_secret_until INTEGER;
