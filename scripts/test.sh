#!/usr/bin/env bash
# The one test command (README, .ci/run): builds, starts the real storage servers on 127.0.0.1,
# runs every test, stops the servers by PID. Extra args are passed to `node --test` (e.g. a file filter).
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsc -p tsconfig.json
bash scripts/servers/up.sh
trap 'bash scripts/servers/down.sh >/dev/null 2>&1 || true' EXIT
mapfile -t files < <(find dist/test -name '*.test.js' | sort)
node --test --test-concurrency=2 "${files[@]}"
