#!/usr/bin/env bash
# Stops the test servers started by up.sh (default: all), by the PIDs they recorded.
# Usage: down.sh [swift|azurite|sftp|webdav]...
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/lib.sh"

pick_servers "$@"
for n in "${names[@]}"; do
  bash "$HERE/$n.sh" stop
  log "$n: stopped"
done
[ -d "$RAIC_SERVERS_DIR" ] && bash "$HERE/write-env.sh"
exit 0
