#!/usr/bin/env bash
# Starts the test servers on 127.0.0.1 (default: all of swift azurite sftp webdav), after
# install.sh. A server already running from this state dir and answering is left as it is (set
# RAIC_SERVERS_RESTART=1 to restart it fresh). Writes the connection info tests read to
# $RAIC_SERVERS_DIR/env.json (and env.sh for shells). Exits non-zero, naming the server, if one fails.
# Usage: up.sh [swift|azurite|sftp|webdav]...
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/lib.sh"

pick_servers "$@"

bash "$HERE/install.sh"
mkdir -p "$RAIC_SERVERS_DIR"

failed=()
for n in "${names[@]}"; do
  t0=$(date +%s%N)
  if [ "${RAIC_SERVERS_RESTART:-0}" != 1 ] && bash "$HERE/$n.sh" healthy; then
    log "$n: already up"
  elif bash "$HERE/$n.sh" start; then
    log "$n: up in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
  else
    failed+=("$n"); continue
  fi
  bash "$HERE/$n.sh" env
done

bash "$HERE/write-env.sh"
if [ ${#failed[@]} -gt 0 ]; then
  die "FAILED to start: ${failed[*]} (see the messages above; state in $RAIC_SERVERS_DIR)"
fi
log "ready: ${names[*]} — connection info in $RAIC_SERVERS_DIR/env.json"
