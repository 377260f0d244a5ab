#!/usr/bin/env bash
# Writes the compose stack's secrets into ./secrets, once: the PostgreSQL
# superuser's and the application role's passwords, the pgpass file the
# hubs and the migration read them from, and the hub's Ed25519 signing key
# (made by the image's `proxyhub keygen`, or a local proxyhub binary).
# Existing files are kept: run it again safely.
set -euo pipefail
cd "$(dirname "$0")"
umask 077
mkdir -p secrets
chmod 0700 secrets

password() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

for f in postgres_password app_password; do
	[[ -s secrets/$f ]] || password >"secrets/$f"
done
printf '*:*:*:postgres:%s\n*:*:*:proxyhub_app:%s\n' "$(cat secrets/postgres_password)" "$(cat secrets/app_password)" >secrets/pgpass

if [[ ! -s secrets/signing.key ]]; then
	if command -v proxyhub >/dev/null; then
		proxyhub keygen --out secrets/signing.key
	else
		docker compose build migrate
		docker compose run --rm --no-deps --user "$(id -u):$(id -g)" -v "$PWD/secrets:/out" migrate keygen --out /out/signing.key
	fi
fi
# Each container reads its secret as its own user: the files are readable,
# the directory (0700) keeps them from other users of this machine.
chmod 0644 secrets/*
echo "secrets in $PWD/secrets: $(ls secrets | tr '\n' ' ')"
