#!/usr/bin/env bash
# govulncheck over the whole module, against the Go vulnerability database
# taken from the Go module proxy (golang.org/x/vulndb at a pinned version,
# indexed locally: vuln.go.dev itself may be unreachable from CI).
#
#   bash scripts/vulncheck.sh
#
# Fails when the code calls a vulnerable function of a module it requires
# (update that module). Vulnerabilities of the standard library are
# printed but do not fail: they are fixed by a newer Go than the machine's
# (see SECURITY.md), not by a change to this module.
set -euo pipefail
cd "$(dirname "$0")/.."
vulndb=golang.org/x/vulndb@v0.0.0-20261105234957-e22db6528018
govulncheck=golang.org/x/vuln/cmd/govulncheck@v1.9.0
db=${VULNCHECK_DB:-${XDG_CACHE_HOME:-$HOME/.cache}/proxyhub/vulndb-${vulndb##*@}}
if [ ! -f "$db/index/db.json" ]; then
  src=$(go mod download -json "$vulndb" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  rm -rf "$db.tmp" && mkdir -p "$(dirname "$db")"
  go run "golang.org/x/vulndb/cmd/indexdb@${vulndb##*@}" -vulns "$src/data/osv" -out "$db.tmp"
  mv "$db.tmp" "$db"
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
go run "$govulncheck" -db "file://$db" -format json ./... >"$out" || true
python3 - "$out" <<'PY'
import json, sys
text = open(sys.argv[1]).read()
dec, i, objs = json.JSONDecoder(), 0, []
while i < len(text):
    while i < len(text) and text[i].isspace():
        i += 1
    if i >= len(text):
        break
    o, i = dec.raw_decode(text, i)
    objs.append(o)
if not any("config" in o for o in objs):
    sys.exit("vulncheck: govulncheck did not run:\n" + text[:2000])
called = {}
for o in objs:
    f = o.get("finding")
    if f and f["trace"][0].get("function"):
        top = f["trace"][0]
        called.setdefault((top["module"], f["osv"], f.get("fixed_version", "")), f["trace"][-1])
mods = sorted({m for m, _, _ in called})
print(f"govulncheck: {len(called)} vulnerabilities the code reaches, in: {', '.join(mods) or 'none'}")
fail = False
for (mod, osv, fixed), frame in sorted(called.items()):
    where = f'{frame.get("position", {}).get("filename", "?")}:{frame.get("position", {}).get("line", "?")}'
    print(f"  {osv}  {mod}  fixed in {fixed or '(no fix yet)'}  reached from {frame.get('package', '?')} ({where})")
    fail = fail or mod != "stdlib"
if fail:
    sys.exit("vulncheck: update the modules above (go get MODULE@FIXED)")
if called:
    print("vulncheck: only the standard library's, fixed by a newer Go than this machine's: see SECURITY.md")
PY
