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

echo
echo "== importer inspect: the file, and what a dry run would report (no network) =="
"$BIN/importer" inspect samples/leads.csv --mapping mappings/minimo-leads.toml

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

echo
echo "== the next week's file, predicted before it is sent (--dry-run --predict) =="
# a company renamed, a first name corrected, one new lead
sed -e 's/Rossi Arredamenti Srl/Rossi Mobili Srl/' -e 's/^Giulia;/Giulietta;/' samples/leads.csv \
  >"$OUT/leads-next-week.csv"
printf 'Nadia;Neri;nadia.neri@gmail.com;347 000 1111;Italia;;;Sì;01/04/2026\r\n' \
  >>"$OUT/leads-next-week.csv"
"$BIN/importer" run "$OUT/leads-next-week.csv" --mapping mappings/notifuse-leads.toml \
  --dry-run --predict --quiet --state "$OUT/state" --report "$OUT/next-week.prediction.csv" \
  || [ $? -eq 1 ]
"$BIN/python" -c "
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], encoding='utf-8-sig'), delimiter=';'))
for r in rows:
    if r['status'] in ('would_create', 'would_update'):
        print(f\"  row {r['row']}: {r['email']} {r['status']}\" + (f\" ({r['changes']})\" if r['changes'] else ''))
print(f\"  ({sum(r['status'] == 'no_change' for r in rows)} rows no_change: sending them would change nothing)\")" \
  "$OUT/next-week.prediction.csv"

echo
echo "== protecting the account: an old file sent again, update rules, then undo =="
# Since the import, Mario opted out and sales wrote his company their way.
"$BIN/python" - "$URL" <<'PY'
import json, sys, urllib.request
url = sys.argv[1]
headers = {"Authorization": "Bearer mn-sandbox-sandboxkey", "Content-Type": "application/json"}
find = urllib.request.Request(url + "/public/v1/contacts/by-email/mario.rossi%40gmail.com", headers=headers)
found = json.load(urllib.request.urlopen(find))
mario = found.get("data", found)
body = {"marketingConsent": {"email": False}, "customFields": {"company": "Rossi Arredamenti S.r.l."}}
put = urllib.request.Request(f"{url}/public/v1/contacts/{mario['id']}", json.dumps(body).encode(), headers, method="PUT")
urllib.request.urlopen(put)
PY
sed -e 's/^timezone = "Europe\/Rome"/&\nsnapshot = true/' \
    -e 's/^"customFields.company" = { column = "Azienda", optional = true }/"customFields.company" = { column = "Azienda", optional = true, update = "if_empty" }/' \
    mappings/minimo-leads.toml >"$OUT/minimo-protect.toml"
"$BIN/importer" run "$OUT/leads-next-week.csv" --mapping "$OUT/minimo-protect.toml" --quiet \
  --state "$OUT/state" --fresh --report "$OUT/protect.report.csv" || [ $? -eq 1 ]
show() {
  "$BIN/python" -c "
import csv, sys
for r in csv.DictReader(open(sys.argv[1], encoding='utf-8-sig'), delimiter=sys.argv[2]):
    held = '(update = ' in r['warning']
    if held or r['status'] in sys.argv[3:] and (r['status'] != 'restored' or r['changes']):
        said = r['changes'] or (r['warning'] if held or r['status'] != 'updated' else '') or r['error']
        print(f\"  row {r['row']}: {r['email']} {r['status']}\" + (f\" — {said}\" if said else ''))" "$@"
}
show "$OUT/protect.report.csv" ";" created
echo "importer undo: the contact it created is deleted, the values it changed are given back"
"$BIN/importer" undo "$OUT/leads-next-week.csv" --mapping "$OUT/minimo-protect.toml" --quiet \
  --state "$OUT/state" --report "$OUT/protect.undo.csv" || [ $? -eq 1 ]
show "$OUT/protect.undo.csv" ";" deleted restored not_undone
echo "Reports are in $OUT/ (open them in Excel or LibreOffice)."
