#!/usr/bin/env bash
# Self-test of these scripts: up → down → up → down on a second set of ports and state dir (so it
# does not disturb servers already running), checking that every server answers after up and that
# down leaves no process and no listener behind — including sshd's per-connection children.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export RAIC_SERVERS_DIR=${RAIC_SELFTEST_DIR:-/tmp/raic-servers-selftest}
export RAIC_SWIFT_PORT=28080 RAIC_SWIFT_OBJ_PORT=26200 RAIC_SWIFT_CONT_PORT=26201 RAIC_SWIFT_ACC_PORT=26202
export RAIC_SWIFT_MEMCACHE_PORT=21311 RAIC_AZURITE_PORT=20000 RAIC_SFTP_PORT=3222 RAIC_WEBDAV_PORT=28082
export RAIC_SERVERS_RESTART=1
source "$HERE/lib.sh"
PORTS=(28080 26200 26201 26202 21311 20000 3222 28082)
fail() { echo "selftest FAILED: $*" >&2; bash "$HERE/down.sh" >/dev/null 2>&1 || true; exit 1; }

recorded_pids() { cat "$RAIC_SERVERS_DIR"/*/run/*.pid "$RAIC_SERVERS_DIR"/*/*.pid 2>/dev/null || true; }

for round in 1 2; do
  bash "$HERE/up.sh" || fail "up.sh (round $round)"
  for n in "${ALL_SERVERS[@]}"; do bash "$HERE/$n.sh" healthy || fail "$n not answering after up.sh"; done
  grep -q '"sftp"' "$RAIC_SERVERS_DIR/env.json" || fail "env.json lacks sftp"
  # Hold an SFTP session open across down.sh: its server-side processes must go too.
  rm -f "$RAIC_SERVERS_DIR/idle.fifo"; mkfifo "$RAIC_SERVERS_DIR/idle.fifo"
  sleep 30 >"$RAIC_SERVERS_DIR/idle.fifo" 2>/dev/null &
  idle=$!
  ssh -q -i "$RAIC_SERVERS_DIR/sftp/id_ed25519" -p "$RAIC_SFTP_PORT" -o BatchMode=yes -o StrictHostKeyChecking=no \
    -o UserKnownHostsFile=/dev/null -s "$(id -un)@127.0.0.1" sftp <"$RAIC_SERVERS_DIR/idle.fifo" >/dev/null 2>&1 &
  client=$!
  sleep 1
  pids=$(recorded_pids)
  all=$pids; for p in $pids; do all="$all $(descendants "$p")"; done
  bash "$HERE/down.sh" || fail "down.sh (round $round)"
  kill "$client" "$idle" 2>/dev/null || true; wait "$client" "$idle" 2>/dev/null || true
  rm -f "$RAIC_SERVERS_DIR/idle.fifo"
  for p in $all; do kill -0 "$p" 2>/dev/null && fail "process $p ($(ps -o cmd= -p "$p")) still running after down.sh"; done
  for port in "${PORTS[@]}"; do tcp_open "$port" && fail "something still listens on 127.0.0.1:$port"; done
  [ "$(tr -d ' \n' <"$RAIC_SERVERS_DIR/env.json")" = '{}' ] || fail "env.json still lists servers after down.sh"
  echo "selftest round $round: up, answering, down, nothing left ($(echo $all | wc -w) processes stopped)"
done
echo "selftest passed"
