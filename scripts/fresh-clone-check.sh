#!/usr/bin/env bash
# The check a new user makes: clone the committed HEAD into an empty temporary directory and run
# the README's test command there, first with no `shared/` beside the clone (the transcription
# checks must say they skipped and pass), then with the team's reference documents beside it and
# PALIER_REQUIRE_REFERENCE=1 (they must run and pass). Usage: scripts/fresh-clone-check.sh
# [REFERENCE_DIR] (default ../shared/reference). Builds reuse this checkout's target directory
# (CARGO_TARGET_DIR to choose another), so only the workspace's own crates are rebuilt.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
reference=${1:-$repo/../shared/reference}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$repo/target}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== 1/2: fresh clone, no shared/ beside it ($work/alone/palier)"
mkdir -p "$work/alone"
git clone -q "$repo" "$work/alone/palier"
test ! -e "$work/alone/shared"
(cd "$work/alone/palier" && env -u PALIER_REFERENCE_DIR -u PALIER_REQUIRE_REFERENCE \
  bash scripts/test.sh 2>&1 | tee "$work/alone.log" | grep -E '^(tests:|reference documents not found)' | sort | uniq -c)
grep -q 'transcription check skipped' "$work/alone.log" \
  || { echo "the transcription checks did not say they were skipped"; exit 1; }

echo "== 2/2: fresh clone with shared/reference beside it, reference required"
test -d "$reference" || { echo "no reference directory at $reference"; exit 1; }
mkdir -p "$work/team/shared"
cp -r "$reference" "$work/team/shared/reference"
git clone -q "$repo" "$work/team/palier"
(cd "$work/team/palier" && env -u PALIER_REFERENCE_DIR PALIER_REQUIRE_REFERENCE=1 \
  bash scripts/test.sh 2>&1 | tee "$work/team.log" | grep -E '^tests:')
if grep -q 'transcription check skipped' "$work/team.log"; then
  echo "the transcription checks skipped although the reference was beside the clone"; exit 1
fi
echo "fresh-clone check: both forms passed"
