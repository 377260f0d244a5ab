#!/usr/bin/env bash
# install.sh — install the proxyhub heartbeat on a Linux proxy.
#
# Installs a wrapper, /usr/local/bin/proxyhub-heartbeat, that calls
#   GET $HUB/proxy_server?name=$NAME   with   Authorization: Bearer phb_…
# once a minute from a systemd timer or cron, at a fixed per-host offset in the minute.
# The token is read from a file or stdin, never from the command line. See README.md here.
set -euo pipefail

readonly PROG=install.sh
readonly MARKER='# proxyhub-heartbeat'
readonly TOKEN_RE='^phb_[A-Za-z0-9]{36}$'
readonly NAME_RE='^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$'
# http(s)://host[:port][/path]: letters, digits and . _ ~ % : - / [ ] only (IPv6 literals allowed).
# No spaces, quotes, $, `, ?, #, @ or ;, so the value is safe unquoted in heartbeat.env and in the URL.
readonly HUB_RE='^https?://[][A-Za-z0-9._~%:-]+(/[A-Za-z0-9._~%:/-]*)?$'
readonly MAX_JITTER=40

# Paths on the target system (under --root).
readonly CONF_DIR=/etc/proxyhub
readonly TOKEN_PATH=$CONF_DIR/token
readonly ENV_PATH=$CONF_DIR/heartbeat.env
readonly WRAPPER_PATH=/usr/local/bin/proxyhub-heartbeat
readonly CRON_DIR=/etc/cron.d
readonly CRON_PATH=$CRON_DIR/proxyhub-heartbeat
readonly UNIT_DIR=/etc/systemd/system
readonly SERVICE_PATH=$UNIT_DIR/proxyhub-heartbeat.service
readonly TIMER_PATH=$UNIT_DIR/proxyhub-heartbeat.timer
readonly TIMER_UNIT=proxyhub-heartbeat.timer

usage() {
	cat <<EOF
Usage: $PROG --hub URL (--token-file FILE | --token-stdin) [--name NAME]
                  [--mode cron|crontab|systemd|auto] [--jitter SECONDS] [--root DIR]
       $PROG --uninstall [--root DIR]
       $PROG --help

Installs the proxyhub heartbeat: every minute this host calls
  GET URL/proxy_server?name=NAME  with  Authorization: Bearer <token>

  --hub URL          the hub, http:// or https:// (e.g. http://hub.example:3001)
  --token-file FILE  read the heartbeat token (phb_ + 36 letters/digits) from FILE
  --token-stdin      read the token from stdin (prompted, without echo, on a terminal)
  --name NAME        this proxy's name (default: \$(hostname)); 1-100 of A-Z a-z 0-9 . _ -,
                     starting with a letter or digit
  --mode MODE        systemd (timer), cron (/etc/cron.d, created when missing; run by a
                     user other than root on /, the user's crontab), crontab (a line in
                     the user's crontab), or auto (default): systemd when systemctl and
                     /run/systemd/system exist, else cron
  --jitter SECONDS   0-$MAX_JITTER (default 20): this host's fixed offset in the minute is chosen
                     once, at random in 0..SECONDS, and kept on re-install
  --root DIR         install under DIR instead of / (systemctl is then not run)
  --uninstall        remove everything this script installs
  --help             this text

The token is never accepted as an argument: it would be visible in ps and shell history.
After installing, test by hand with:  $WRAPPER_PATH --now
EOF
}

die() {
	printf '%s: %s\n' "$PROG" "$*" >&2
	exit 1
}

usage_error() {
	printf '%s: %s\n' "$PROG" "$*" >&2
	printf 'Run %s --help for usage.\n' "$PROG" >&2
	exit 2
}

warn() { printf '%s: warning: %s\n' "$PROG" "$*" >&2; }

# ---------------------------------------------------------------------------------------------
# Arguments

hub='' token_file='' token_stdin=0 name='' name_given=0 mode=auto jitter=20 root=/ uninstall=0

need_value() { # $1 option, $2 number of remaining args, $3 the value (if any)
	[[ $2 -ge 2 && ${3-} != --* ]] || usage_error "$1 needs a value"
}

while [[ $# -gt 0 ]]; do
	opt=$1
	case $opt in
	--*=*)
		# --opt=value: split it; the value is never echoed (it could be a secret).
		set -- "${opt%%=*}" "${opt#*=}" "${@:2}"
		opt=$1
		;;
	esac
	case $opt in
	--hub) need_value "$opt" $# "${2-}"; hub=$2; shift 2 ;;
	--token-file) need_value "$opt" $# "${2-}"; token_file=$2; shift 2 ;;
	--token-stdin) token_stdin=1; shift ;;
	--name) need_value "$opt" $# "${2-}"; name=$2; name_given=1; shift 2 ;;
	--mode) need_value "$opt" $# "${2-}"; mode=$2; shift 2 ;;
	--jitter) need_value "$opt" $# "${2-}"; jitter=$2; shift 2 ;;
	--root) need_value "$opt" $# "${2-}"; root=$2; shift 2 ;;
	--uninstall) uninstall=1; shift ;;
	-h | --help) usage; exit 0 ;;
	--token)
		usage_error "the token is not accepted on the command line (it would show in ps and shell history); use --token-file FILE or --token-stdin"
		;;
	-*)
		if [[ $opt =~ ^--?[A-Za-z][A-Za-z-]{0,30}$ ]]; then
			usage_error "unknown option: $opt"
		fi
		usage_error "unknown option (not shown)"
		;;
	*)
		# Never echo a stray argument: it may well be a pasted token.
		usage_error "unexpected argument (not shown); the token is read only from --token-file or --token-stdin"
		;;
	esac
done

# --root: an existing directory. $R is the prefix for every path ("" when the root is /).
[[ -n $root ]] || usage_error "--root must not be empty"
[[ -d $root ]] || die "--root $root is not a directory"
root_abs=$(cd -- "$root" && pwd -P)
if [[ $root_abs == / ]]; then
	R=
	live=1 # installing on this very system: systemctl is run
else
	R=$root_abs
	live=0
fi

if [[ $live == 1 && $EUID -ne 0 ]]; then
	die "run as root (e.g. with sudo): it writes $CONF_DIR, $WRAPPER_PATH and cron or systemd files"
fi

# ---------------------------------------------------------------------------------------------
# File helpers

umask 077
tmp_files=()
cleanup() {
	if [[ ${#tmp_files[@]} -gt 0 ]]; then
		rm -f -- "${tmp_files[@]}"
	fi
}
trap cleanup EXIT

mkdir_755() { # directories others must be able to traverse (umask 077 would make them 0700)
	(umask 022 && mkdir -p -- "$1")
}

# write_file MODE PATH [CONTENT]: CONTENT (or stdin) → temp file in the same directory → chmod →
# mv over PATH. The temp file is created under umask 077, so it is never readable by others, not
# even briefly, and a reader never sees a half-written file. CONTENT is a shell function argument,
# not a process argument: it never reaches any argv.
write_file() {
	local mode=$1 dest=$2 tmp
	mkdir_755 "$(dirname -- "$dest")"
	tmp=$(mktemp "$(dirname -- "$dest")/.proxyhub-heartbeat.XXXXXX")
	tmp_files+=("$tmp")
	if [[ $# -ge 3 ]]; then
		printf '%s' "$3" >"$tmp"
	else
		cat >"$tmp"
	fi
	chmod "$mode" "$tmp"
	mv -f -- "$tmp" "$dest"
}

have() { command -v "$1" >/dev/null 2>&1; }

# ---------------------------------------------------------------------------------------------
# The user's crontab (fallback when there is no /etc/cron.d)

# crontab_get: the user's crontab on stdout; empty when there is none. Any other failure of
# crontab -l is fatal, so that a crontab we could not read is never overwritten.
crontab_get() {
	local err
	if crontab -l 2>/dev/null; then return 0; fi
	err=$(crontab -l 2>&1 >/dev/null || true)
	case $err in
	*"no crontab"* | *"No such file"*) return 0 ;;
	esac
	die "crontab -l failed (${err:-no message}); the crontab was left alone"
}

crontab_has_line() {
	have crontab || return 1
	local current
	current=$(crontab_get) || return 1 # unreadable: reported, and left alone
	[[ $current == *"$MARKER"* ]]
}

# crontab_set [LINE]: drop our marked line, then append LINE if given. Other lines are kept.
crontab_set() {
	local current kept
	current=$(crontab_get) || exit 1
	kept=$(printf '%s\n' "$current" | grep -vF -- "$MARKER" || true)
	{
		if [[ -n $kept ]]; then printf '%s\n' "$kept"; fi
		if [[ $# -gt 0 ]]; then printf '%s\n' "$1"; fi
	} | crontab -
}

warn_tokenless_cron_line() {
	have crontab || return 0
	local current
	current=$(crontab_get) || return 0
	if printf '%s\n' "$current" | grep -v -F -- "$MARKER" | grep -q 'proxy_server?name='; then
		warn "this user's crontab still has an old heartbeat line (curl …/proxy_server?name=…); remove it with crontab -e"
	fi
}

# ---------------------------------------------------------------------------------------------
# Removal (uninstall, and switching between cron and systemd)

remove_systemd() {
	local had=0
	[[ -e $R$TIMER_PATH || -e $R$SERVICE_PATH ]] && had=1
	if [[ $had == 1 && $live == 1 ]] && have systemctl; then
		systemctl disable --now "$TIMER_UNIT" >/dev/null 2>&1 || true
	fi
	rm -f -- "$R$TIMER_PATH" "$R$SERVICE_PATH"
	if [[ $had == 1 ]]; then
		if [[ $live == 1 ]] && have systemctl; then
			systemctl daemon-reload || true
		elif [[ $live == 0 ]]; then
			echo "not run (--root is not /): systemctl disable --now $TIMER_UNIT && systemctl daemon-reload"
		fi
		echo "removed $R$TIMER_PATH and $R$SERVICE_PATH"
	fi
}

remove_cron() {
	if [[ -e $R$CRON_PATH ]]; then
		rm -f -- "$R$CRON_PATH"
		echo "removed $R$CRON_PATH"
	fi
	if crontab_has_line; then
		crontab_set
		echo "removed the '$MARKER' line from this user's crontab"
	fi
}

if [[ $uninstall == 1 ]]; then
	remove_systemd
	remove_cron
	for f in "$R$WRAPPER_PATH" "$R$ENV_PATH" "$R$TOKEN_PATH"; do
		if [[ -e $f ]]; then
			rm -f -- "$f"
			echo "removed $f"
		fi
	done
	rmdir -- "$R$CONF_DIR" 2>/dev/null || true # only if empty: hub.env may live there too
	echo "proxyhub heartbeat uninstalled"
	exit 0
fi

# ---------------------------------------------------------------------------------------------
# Validate everything before writing anything.

[[ -n $hub ]] || usage_error "--hub URL is required"
while [[ $hub == */ ]]; do hub=${hub%/}; done
[[ $hub =~ $HUB_RE ]] ||
	usage_error "--hub must be http://HOST[:PORT][/PATH] or https://…, without spaces, quotes, query or credentials"

if [[ $name_given == 0 ]]; then
	if have hostname; then
		name=$(hostname 2>/dev/null) || name=
	else
		name=$(uname -n 2>/dev/null) || name=
	fi
	[[ $name =~ $NAME_RE ]] || usage_error "this host's name is not a valid proxy name; pass --name NAME"
fi
[[ $name =~ $NAME_RE ]] ||
	usage_error "--name must be 1-100 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit"

if ! [[ $jitter =~ ^[0-9]{1,3}$ ]] || ((10#$jitter > MAX_JITTER)); then
	usage_error "--jitter must be a whole number of seconds from 0 to $MAX_JITTER (the hub marks a proxy offline after 80 s)"
fi
jitter=$((10#$jitter))

case $mode in
systemd | cron | crontab) ;;
auto)
	if have systemctl && [[ -d $R/run/systemd/system ]]; then mode=systemd; else mode=cron; fi
	;;
*) usage_error "--mode must be cron, crontab, systemd or auto" ;;
esac

if [[ $mode == systemd && $live == 1 ]] && ! have systemctl; then
	die "systemctl not found: use --mode cron"
fi
if [[ $mode == cron && ! -d $R$CRON_DIR && $live == 1 && $(id -u) != 0 ]]; then
	mode=crontab # only root can create /etc/cron.d
fi
if [[ $mode == crontab ]]; then
	have crontab || die "no crontab command: install cron, or use --mode cron or --mode systemd"
	crontab_get >/dev/null || exit 1 # fail now, before anything is written
fi

if [[ -n $token_file && $token_stdin == 1 ]]; then
	usage_error "give --token-file or --token-stdin, not both"
fi
token=''
if [[ -n $token_file ]]; then
	[[ -f $token_file && -r $token_file ]] || die "--token-file $token_file is not a readable file"
	IFS= read -r token <"$token_file" || true
elif [[ $token_stdin == 1 ]]; then
	if [[ -t 0 ]]; then
		IFS= read -rs -p 'proxyhub heartbeat token: ' token || true
		echo >&2
	else
		IFS= read -r token || true
	fi
else
	usage_error "the token is required: --token-file FILE or --token-stdin"
fi
token=${token%$'\r'} # a file edited on Windows
# The message never includes the token, not even a part of it.
[[ $token =~ $TOKEN_RE ]] || die "the token is malformed: expected phb_ followed by 36 letters or digits"

# This host's offset in the minute: kept from a previous install when still within 0..jitter,
# so that re-running the installer never stretches one interval past the hub's 80 s limit.
offset=
if [[ -r $R$ENV_PATH ]]; then
	while IFS='=' read -r key value; do
		if [[ $key == JITTER && $value =~ ^[0-9]{1,2}$ ]]; then offset=$((10#$value)); fi
	done <"$R$ENV_PATH"
	if [[ -n $offset ]] && ((offset > jitter)); then offset=; fi
fi
if [[ -z $offset ]]; then
	offset=$((RANDOM % (jitter + 1)))
fi
offset=$((10#$offset))

# ---------------------------------------------------------------------------------------------
# Install

# The token: written by the printf builtin under umask 077, so it is in no process's argv.
write_file 0600 "$R$TOKEN_PATH" "$token"$'\n'
unset token
chmod 0755 "$R$CONF_DIR"

write_file 0644 "$R$ENV_PATH" <<EOF
# proxyhub heartbeat settings, written by install.sh. No secret here: the token is in $TOKEN_PATH.
# JITTER: this host's fixed offset in seconds after each minute, drawn once in 0..$jitter
# and kept when install.sh is run again.
HUB=$hub
NAME=$name
JITTER=$offset
EOF

# The wrapper. Quoted heredoc: nothing below is expanded now.
write_file 0755 "$R$WRAPPER_PATH" <<'WRAPPER'
#!/usr/bin/env bash
# proxyhub-heartbeat — one heartbeat to the proxyhub hub. Installed by proxyhub's
# deploy/cron/install.sh and run every minute by cron or a systemd timer.
#
#   proxyhub-heartbeat          sleep this host's fixed offset (JITTER), then send
#   proxyhub-heartbeat --now    send at once and print the hub's answer (manual test)
#
# Settings: $PROXYHUB_HEARTBEAT_CONF_DIR (default /etc/proxyhub)/heartbeat.env (HUB, NAME,
# JITTER) and .../token (the bearer token, mode 0600). Errors go to syslog (logger) or stderr;
# nothing is printed on success, and the token is never printed.
set -euo pipefail

conf_dir=${PROXYHUB_HEARTBEAT_CONF_DIR:-/etc/proxyhub}
now=0
case ${1-} in
'') ;;
--now) now=1 ;;
-h | --help)
	sed -n '2,10s/^# \{0,1\}//p' "$0"
	exit 0
	;;
*)
	echo "usage: proxyhub-heartbeat [--now]" >&2
	exit 2
	;;
esac

# Errors: to syslog when logger exists (under systemd, stderr already goes to the journal);
# to stderr otherwise, and always with --now.
fail() {
	local msg="heartbeat failed: $*"
	if [[ -z ${INVOCATION_ID-} ]] && command -v logger >/dev/null 2>&1; then
		logger -t proxyhub-heartbeat -p user.err -- "$msg" || true
		if [[ $now == 1 ]]; then printf 'proxyhub-heartbeat: %s\n' "$msg" >&2; fi
	else
		printf 'proxyhub-heartbeat: %s\n' "$msg" >&2
	fi
	exit 1
}

# heartbeat.env is parsed, not sourced: a line is KEY=value, and nothing in it is executed.
HUB='' NAME='' JITTER=''
[[ -r $conf_dir/heartbeat.env ]] || fail "cannot read $conf_dir/heartbeat.env"
while IFS='=' read -r key value; do
	case $key in
	HUB) HUB=$value ;;
	NAME) NAME=$value ;;
	JITTER) JITTER=$value ;;
	esac
done <"$conf_dir/heartbeat.env"
[[ $HUB =~ ^https?://[][A-Za-z0-9._~%:-]+(/[A-Za-z0-9._~%:/-]*)?$ ]] || fail "HUB in $conf_dir/heartbeat.env is not a valid http(s) URL"
# The name pattern is URL-safe, so it goes into the query string as it is.
[[ $NAME =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$ ]] || fail "NAME in $conf_dir/heartbeat.env is not a valid proxy name"
if ! [[ $JITTER =~ ^[0-9]{1,2}$ ]] || ((10#$JITTER > 40)); then
	fail "JITTER in $conf_dir/heartbeat.env must be 0-40"
fi

token=''
[[ -r $conf_dir/token ]] || fail "cannot read $conf_dir/token"
IFS= read -r token <"$conf_dir/token" || true
token=${token%$'\r'}
[[ $token =~ ^phb_[A-Za-z0-9]{36}$ ]] || fail "$conf_dir/token does not hold a phb_ token"

if [[ $now == 0 ]]; then
	sleep "$((10#$JITTER))"
fi

url="$HUB/proxy_server?name=$NAME"

# The Authorization header reaches curl on its stdin (-H @-), never in an argument: printf is a
# bash builtin, so the token is in no process's argv (ps, /proc/PID/cmdline); curl's own argv
# holds only "@-". -q (first) ignores ~/.curlrc, so no stray -v can echo the header. curl
# retries 408/429/5xx (honouring Retry-After) and refused connections; -f turns 401/403/422
# into an error without retrying.
if [[ $now == 1 ]]; then
	# Manual test: the hub's JSON answer to stdout, curl's error (if any) to stderr.
	printf 'Authorization: Bearer %s\n' "$token" |
		curl -q -fsS -m 10 --retry 3 --retry-max-time 40 --retry-connrefused -H @- "$url" ||
		fail "GET $url: curl exit $?"
	echo
	exit 0
fi

set +e
err=$(printf 'Authorization: Bearer %s\n' "$token" |
	curl -q -fsS -m 10 --retry 3 --retry-max-time 40 --retry-connrefused \
		-o /dev/null -H @- "$url" 2>&1)
rc=$?
set -e
if [[ $rc -ne 0 ]]; then
	err=${err//$token/[token]} # curl does not print request headers, but be sure
	fail "GET $url: curl exit $rc: ${err:-no message}"
fi
WRAPPER

installed=("$R$TOKEN_PATH (0600)" "$R$ENV_PATH" "$R$WRAPPER_PATH (0755)")

if [[ $mode == systemd ]]; then
	remove_cron
	write_file 0644 "$R$SERVICE_PATH" <<EOF
# proxyhub heartbeat, installed by install.sh. Started every minute by $TIMER_UNIT.
[Unit]
Description=proxyhub heartbeat (GET /proxy_server)
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
ExecStart=$WRAPPER_PATH
# offset (<= 40 s) + curl with retries (<= ~50 s)
TimeoutStartSec=100s
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
ReadOnlyPaths=$CONF_DIR
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectControlGroups=yes
EOF
	write_file 0644 "$R$TIMER_PATH" <<EOF
# proxyhub heartbeat: every minute on the minute; the wrapper then sleeps this host's fixed
# offset (JITTER in $ENV_PATH), so the interval stays 60 s and hosts spread over the minute.
[Unit]
Description=proxyhub heartbeat every minute

[Timer]
OnCalendar=*-*-* *:*:00
AccuracySec=1s
Persistent=false
Unit=proxyhub-heartbeat.service

[Install]
WantedBy=timers.target
EOF
	installed+=("$R$SERVICE_PATH" "$R$TIMER_PATH")
	if [[ $live == 1 ]]; then
		systemctl daemon-reload
		systemctl enable --now "$TIMER_UNIT"
		installed+=("enabled and started $TIMER_UNIT")
	else
		echo "not run (--root is not /): systemctl daemon-reload && systemctl enable --now $TIMER_UNIT"
	fi
else
	remove_systemd
	if [[ $mode == cron ]]; then
		if [[ ! -d $R$CRON_DIR ]]; then
			mkdir_755 "$R$CRON_DIR" # a fresh root: cron reads it once installed
			if [[ $live == 1 ]] && ! have cron && ! have crond; then
				warn "created $CRON_DIR, but no cron daemon was found: install cron (e.g. apt-get install cron)"
			fi
		fi
		remove_cron # e.g. a crontab line from an earlier install
		write_file 0644 "$R$CRON_PATH" <<EOF
# proxyhub heartbeat, installed by install.sh; remove with install.sh --uninstall.
# The wrapper sleeps this host's fixed offset (JITTER in $ENV_PATH) after each minute.
SHELL=/bin/sh
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
* * * * * root $WRAPPER_PATH
EOF
		installed+=("$R$CRON_PATH")
	else
		crontab_set "* * * * * $WRAPPER_PATH $MARKER"
		installed+=("a '* * * * * $WRAPPER_PATH' line in this user's crontab")
	fi
	warn_tokenless_cron_line
fi

if [[ $live == 1 ]] && ! have curl; then
	warn "curl not found: the heartbeat needs curl 7.55 or newer"
fi

echo "proxyhub heartbeat installed ($mode): $name -> $hub, at second $offset of every minute"
for item in "${installed[@]}"; do
	echo "  $item"
done
echo "Manual test: $WRAPPER_PATH --now"
