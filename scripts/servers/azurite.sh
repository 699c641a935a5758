#!/usr/bin/env bash
# Azurite (Azure Blob emulator, npm dev dependency) on 127.0.0.1:$AZURITE_PORT, in-memory.
# Account devstoreaccount1 with the well-known Azurite development key.
# Usage: azurite.sh start|stop|healthy|env
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
BASE=$RAIC_SERVERS_DIR/azurite
BIN=$RAIC_REPO/node_modules/.bin/azurite-blob

healthy() {
  pid_alive "$BASE/azurite.pid" || return 1
  # Any HTTP answer (400/403 without auth) means it is listening.
  local code
  code=$(curl -s -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$AZURITE_PORT/$AZURITE_ACCOUNT?comp=list" || true)
  [ -n "$code" ] && [ "$code" != 000 ]
}

stop() { stop_pids "$BASE/azurite.pid"; rm -f "$BASE/env.json" "$BASE/env.sh"; }

start() {
  stop
  [ -x "$BIN" ] || die "azurite not installed ($BIN): run bash scripts/servers/install.sh"
  rm -rf "$BASE"; mkdir -p "$BASE"
  # --skipApiVersionCheck: newer @azure/storage-blob sends an API version Azurite would reject.
  spawn "$BASE/azurite.pid" "$BASE/azurite.log" "$BIN" --blobHost 127.0.0.1 --blobPort "$AZURITE_PORT" \
    --inMemoryPersistence --disableTelemetry --skipApiVersionCheck --silent
  await_healthy azurite "$AZURITE_PORT" 15 "$BASE/azurite.pid" "$BASE/azurite.log"
}

env_files() {
  local ep="http://127.0.0.1:$AZURITE_PORT/$AZURITE_ACCOUNT"
  local cs="DefaultEndpointsProtocol=http;AccountName=$AZURITE_ACCOUNT;AccountKey=$AZURITE_KEY;BlobEndpoint=$ep;"
  cat >"$BASE/env.json" <<J
{ "blobEndpoint": $(json_str "$ep"), "accountName": "$AZURITE_ACCOUNT", "accountKey": $(json_str "$AZURITE_KEY"),
  "connectionString": $(json_str "$cs") }
J
  cat >"$BASE/env.sh" <<S
export RAIC_AZURITE_BLOB_ENDPOINT=$ep RAIC_AZURITE_ACCOUNT=$AZURITE_ACCOUNT RAIC_AZURITE_KEY='$AZURITE_KEY'
S
}

serve azurite "$@"
