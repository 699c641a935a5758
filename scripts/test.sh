#!/usr/bin/env bash
# The one test command (README, .ci/run): builds, starts the real storage servers on 127.0.0.1,
# runs every test, stops the servers by PID. Extra args are passed to `node --test` (e.g. --test-name-pattern).
#
# Tests that assert on run-time ratios (*.timed.test.js: an unchanged re-backup under 15% of the first)
# run alone, after the rest: measured beside another test's CPU load, a ratio of two timings says more about
# the neighbour than about raic.
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsc -p tsconfig.json
node scripts/oclif-manifest.mjs
bash scripts/servers/up.sh
trap 'bash scripts/servers/down.sh >/dev/null 2>&1 || true' EXIT
mapfile -t files < <(find dist/test -name '*.test.js' ! -name '*.timed.test.js' | sort)
mapfile -t timed < <(find dist/test -name '*.timed.test.js' | sort)
status=0
node --test --test-concurrency=2 "$@" "${files[@]}" || status=$?
node --test --test-concurrency=1 "$@" "${timed[@]}" || status=$?
exit "$status"
