#!/usr/bin/env bash
# The project's test command (`make test`): find a PostgreSQL server for the
# PostgreSQL store's tests, then run `go test -race -count=1` on ./... .
#
# Arguments are passed to go test; when one of them names packages (./x/...,
# a module path) they replace ./... :
#   bash scripts/test.sh                       # everything
#   bash scripts/test.sh -run TestConformance  # everything, filtered
#   bash scripts/test.sh ./internal/store/...  # these packages
#
# The server, first found wins:
#   1. PROXYHUB_TEST_DATABASE_URL, when set (a role that may create roles and
#      databases; see internal/pgtest).
#   2. A server that lets the role postgres in without a password on
#      PROXYHUB_TEST_PG_PROBE_HOST:PROXYHUB_TEST_PG_PROBE_PORT
#      (default 127.0.0.1:5432).
#   3. A throwaway cluster: initdb and pg_ctl from PATH or from
#      PROXYHUB_TEST_PG_BINDIRS (default /usr/lib/postgresql/*/bin), in a
#      temporary directory, on a free port, trust authentication, fsync off;
#      stopped and removed on exit. As root it runs as the user postgres
#      (PROXYHUB_TEST_PG_USER), because initdb refuses root.
#   4. None: with CI=true this fails; otherwise the PostgreSQL tests are
#      skipped, with a warning.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf 'test.sh: %s\n' "$*" >&2; }

# probe HOST PORT succeeds when a server there lets postgres in.
probe() {
	local host=$1 port=$2
	if command -v psql >/dev/null 2>&1; then
		local db
		for db in postgres test; do
			if PGCONNECT_TIMEOUT=3 psql -X -w -q -h "$host" -p "$port" -U postgres -d "$db" -tAc 'SELECT 1' >/dev/null 2>&1; then
				probe_db=$db
				return 0
			fi
		done
		return 1
	fi
	probe_db=postgres
	if command -v pg_isready >/dev/null 2>&1; then
		pg_isready -q -h "$host" -p "$port" -U postgres -d postgres -t 3
		return
	fi
	(exec 3<>"/dev/tcp/$host/$port") 2>/dev/null
}

# find_bin NAME prints the path of a PostgreSQL program, or fails.
find_bin() {
	local p dir
	if p=$(command -v "$1" 2>/dev/null); then
		readlink -f "$p"
		return
	fi
	for dir in $(ls -d ${PROXYHUB_TEST_PG_BINDIRS-/usr/lib/postgresql/*/bin} 2>/dev/null | sort -V -r); do
		if [[ -x $dir/$1 ]]; then
			echo "$dir/$1"
			return
		fi
	done
	return 1
}

# port_free PORT succeeds when nothing listens on 127.0.0.1:PORT.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

cluster_dir=""
as_pg=()
pg_ctl=""

stop_cluster() {
	if [[ -n $cluster_dir ]]; then
		"${as_pg[@]}" "$pg_ctl" -D "$cluster_dir/data" -m immediate -w stop >/dev/null 2>&1 || true
		rm -rf "$cluster_dir"
		log "stopped the throwaway PostgreSQL cluster"
	fi
}

# start_cluster starts a throwaway cluster and sets PROXYHUB_TEST_DATABASE_URL.
start_cluster() {
	local initdb
	initdb=$(find_bin initdb) || return 1
	pg_ctl=$(dirname "$initdb")/pg_ctl
	[[ -x $pg_ctl ]] || pg_ctl=$(find_bin pg_ctl) || return 1

	cluster_dir=$(mktemp -d "${TMPDIR:-/tmp}/proxyhub-pg.XXXXXX")
	trap stop_cluster EXIT
	trap 'exit 130' INT TERM
	if [[ $EUID -eq 0 ]]; then
		local user=${PROXYHUB_TEST_PG_USER:-postgres}
		if ! id "$user" >/dev/null 2>&1; then
			log "running as root, and there is no user $user to run initdb as (set PROXYHUB_TEST_PG_USER)"
			return 1
		fi
		chown "$user" "$cluster_dir"
		if command -v runuser >/dev/null 2>&1; then
			as_pg=(runuser -u "$user" --)
		else
			as_pg=(su_as "$user")
		fi
	fi
	chmod 700 "$cluster_dir"
	if ! "${as_pg[@]}" "$initdb" -D "$cluster_dir/data" -U postgres --auth=trust -E UTF8 --locale=C --no-sync \
		>"$cluster_dir/initdb.log" 2>&1; then
		log "initdb failed:"
		cat "$cluster_dir/initdb.log" >&2
		return 1
	fi
	local port attempt
	for attempt in 1 2 3 4 5; do
		port=$((20000 + RANDOM % 40000))
		port_free "$port" || continue
		if "${as_pg[@]}" "$pg_ctl" -D "$cluster_dir/data" -l "$cluster_dir/server.log" -w -t 60 \
			-o "-p $port -k $cluster_dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
			start >/dev/null 2>&1; then
			export PROXYHUB_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
			log "started a throwaway PostgreSQL cluster ($("$pg_ctl" --version)) on 127.0.0.1:$port in $cluster_dir"
			return 0
		fi
	done
	log "the throwaway cluster did not start:"
	tail -20 "$cluster_dir/server.log" >&2 || true
	return 1
}

# su_as USER PROGRAM ARGS… runs a program as USER with su (no runuser).
su_as() {
	local user=$1
	shift
	su "$user" -s /bin/sh -c "$(printf '%q ' "$@")"
}

probe_db=postgres
probe_host=${PROXYHUB_TEST_PG_PROBE_HOST:-127.0.0.1}
probe_port=${PROXYHUB_TEST_PG_PROBE_PORT:-5432}
if [[ -n ${PROXYHUB_TEST_DATABASE_URL:-} ]]; then
	log "PostgreSQL: PROXYHUB_TEST_DATABASE_URL as given"
elif probe "$probe_host" "$probe_port"; then
	export PROXYHUB_TEST_DATABASE_URL="postgres://postgres@$probe_host:$probe_port/$probe_db?sslmode=disable"
	log "PostgreSQL: the server on $probe_host:$probe_port"
elif start_cluster; then
	:
else
	stop_cluster
	cluster_dir=""
	if [[ ${CI:-} == true ]]; then
		log "FAIL: no PostgreSQL for the tests: set PROXYHUB_TEST_DATABASE_URL, run a server on $probe_host:$probe_port, or install PostgreSQL (initdb, pg_ctl)"
		exit 1
	fi
	warn_skipped() {
		log "WARNING: ************************************************************"
		log "WARNING: no PostgreSQL found: the PostgreSQL store's tests are SKIPPED."
		log "WARNING: set PROXYHUB_TEST_DATABASE_URL, run a server on $probe_host:$probe_port,"
		log "WARNING: or install PostgreSQL (initdb, pg_ctl) to run them."
		log "WARNING: ************************************************************"
	}
	warn_skipped
	trap warn_skipped EXIT # again after go test's output, where it is seen
fi

# Redis for the shared rate-limit tests: PROXYHUB_TEST_REDIS_ADDR, else a
# server on 127.0.0.1:6379, else a throwaway redis-server (from PATH) on a
# free port that keeps nothing, stopped at exit; else the tests that need
# it are skipped (and fail with CI=true).
redis_pid=
redis_answers() { (exec 3<>"/dev/tcp/${1%:*}/${1##*:}" && printf 'PING\r\n' >&3 && read -r -t 2 line <&3 && [[ $line == +PONG* ]]) 2>/dev/null; }
if [[ -z ${PROXYHUB_TEST_REDIS_ADDR:-} ]]; then
	if redis_answers 127.0.0.1:6379; then
		export PROXYHUB_TEST_REDIS_ADDR=127.0.0.1:6379
		log "Redis: the server on 127.0.0.1:6379"
	elif command -v redis-server >/dev/null 2>&1; then
		redis_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
		redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no >/dev/null 2>&1 &
		redis_pid=$!
		for _ in $(seq 50); do redis_answers "127.0.0.1:$redis_port" && break; sleep 0.1; done
		export PROXYHUB_TEST_REDIS_ADDR=127.0.0.1:$redis_port
		log "Redis: a throwaway redis-server on 127.0.0.1:$redis_port"
	else
		log "Redis: none (the shared rate-limit tests are skipped; they fail with CI=true)"
	fi
fi
stop_redis() { [[ -n $redis_pid ]] && kill "$redis_pid" 2>/dev/null; wait "$redis_pid" 2>/dev/null || true; }

packages=(./...)
for arg in "$@"; do
	case $arg in
	./* | ../* | . | */... | github.com/*) packages=() ;;
	esac
done

status=0
go test -race -count=1 "$@" "${packages[@]}" || status=$?

# The fuzz targets, each for FUZZTIME (default 50000x: that many inputs,
# 2-5 s here; longer on demand, e.g. FUZZTIME=10m; 0 skips them), when the
# whole suite runs. Their seed corpora (f.Add and testdata/fuzz) already
# ran above as ordinary tests. The default is a count, not a duration:
# go1.26's fuzz coordinator can fail a duration run with a bare "context
# deadline exceeded" when a busy machine's worker misses the end of the
# window (golang/go#75804, fixed in go1.27), which is no finding.
fuzz_targets=(
	"FuzzResolve ./internal/clientip"
	"FuzzValidName ./internal/hub"
	"FuzzParseCIDRs ./internal/hub"
	"FuzzWellFormedSecret ./internal/auth"
	"FuzzVerify ./internal/auth"
	"FuzzPlainHeartbeatName ./internal/httpapi"
)
if [[ ${#packages[@]} -gt 0 && ${FUZZTIME:-50000x} != 0 && ${FUZZTIME:-50000x} != 0s ]]; then
	for target in "${fuzz_targets[@]}"; do
		read -r name pkg <<<"$target"
		log "fuzz $name ($pkg) for ${FUZZTIME:-50000x}"
		go test -run '^$' -fuzz "^$name\$" -fuzztime "${FUZZTIME:-50000x}" "$pkg" || status=1
	done
fi
stop_redis
exit "$status"
