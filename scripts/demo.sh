#!/usr/bin/env bash
# make demo: the sandbox on a free loopback port, samples/ imported into both targets.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
OUT=demo-output
mkdir -p "$OUT"

"$BIN/importer" sandbox --port 0 >"$OUT/sandbox.log" 2>&1 &
SANDBOX=$!
trap 'kill $SANDBOX 2>/dev/null; wait $SANDBOX 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  URL=$(sed -n 's/^sandbox listening on //p' "$OUT/sandbox.log")
  [ -n "$URL" ] && break
  sleep 0.1
done
[ -n "${URL:-}" ] || { echo "the sandbox did not start:"; cat "$OUT/sandbox.log"; exit 1; }
echo "sandbox running at $URL"

# The sandbox's own demo credentials (not secrets); a real account is configured the same way.
export MINIMO_API_KEY=mn-sandbox-sandboxkey MINIMO_BASE_URL="$URL"
export NOTIFUSE_API_KEY=nf-sandbox-key NOTIFUSE_BASE_URL="$URL" NOTIFUSE_WORKSPACE_ID=ws_sandbox

for target in minimo notifuse; do
  for source in samples/leads.csv samples/leads.xlsx; do
    name=$(basename "$source" | tr . -)
    echo
    # exit 1 = some rows are errors (the samples hold an invalid email on purpose)
    "$BIN/importer" run "$source" --mapping "mappings/$target-leads.toml" --quiet \
      --state "$OUT/state" --fresh --report "$OUT/$name-$target.report.csv" || [ $? -eq 1 ]
  done
done
echo
"$BIN/python" -c "
import json, sys, urllib.request
d = json.load(urllib.request.urlopen(sys.argv[1] + '/_sandbox/contacts'))
print('Contacts now in the sandbox:', len(d['minimo']), 'in Minimo,', len(d['notifuse']), 'in Notifuse')
members = [c['email'] for c in d['notifuse'] if 'newsletter' in c['lists']]
print('Notifuse list \"newsletter\" (the rows whose Newsletter says Sì; No and blank never join):')
for email in members:
    print('  ' + email)" "$URL"
echo "Reports are in $OUT/ (open them in Excel or LibreOffice)."
