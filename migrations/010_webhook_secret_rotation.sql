-- 010: webhook secret rotation. A rotation keeps the secret it replaces
-- (sealed, like secret) and until when deliveries are still signed with it.
-- Both columns hold sealed values (secretbox): never a secret in the clear.
ALTER TABLE webhooks
    ADD COLUMN previous_secret text NOT NULL DEFAULT '',
    ADD COLUMN previous_secret_until timestamptz;
