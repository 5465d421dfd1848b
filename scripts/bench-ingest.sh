#!/usr/bin/env bash
# Bulk sync benchmark through the real server (release build, embedded store): registers
# N persons, then uploads one NDJSON file with E elements per person to POST /ingest and
# reports elements written per second, with the failures the answer counted.
# Usage: scripts/bench-ingest.sh [persons, default 10000] [elements per person, default 10]
set -euo pipefail
cd "$(dirname "$0")/.."
persons=${1:-10000}
per=${2:-10}
source scripts/bench/server.sh
palier_binary
start_server
trap stop_server EXIT
python3 scripts/bench/seed_persons.py "$url" "$TOKEN" "$persons" "$dir/ids.lua"
python3 scripts/bench/gen_ingest.py "$dir/ids.lua" "$per" "$dir/sync.ndjson"
start=$(date +%s.%N)
curl -sf -X POST "http://127.0.0.1:$port/ingest" -H "authorization: Bearer $TOKEN" \
  -H 'content-type: application/x-ndjson' --data-binary @"$dir/sync.ndjson" > "$dir/answer.ndjson"
end=$(date +%s.%N)
done_line=$(tail -1 "$dir/answer.ndjson")
echo "$done_line"
python3 - "$start" "$end" "$per" "$done_line" <<'PY'
import json, sys
start, end, per, done = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), json.loads(sys.argv[4])["done"]
elements = done["written"] * per
print(f"| NDJSON upload, {done['items']} lines × {per} elements | {elements / (end - start):,.0f} elements/s | "
      f"{end - start:.2f} s | failed {done['failed']} |")
PY
