# Shared settings for the test-server scripts; sourced, not run.
# Every server keeps its state (config, data, logs, pid files, env fragment) under
# $RAIC_SERVERS_DIR/<name>/ and listens on 127.0.0.1 only. Ports can be moved with RAIC_*_PORT so a
# second set of servers (e.g. a self-test of these scripts) can run beside the first.
RAIC_SERVERS_DIR=${RAIC_SERVERS_DIR:-/tmp/raic-servers}
RAIC_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ALL_SERVERS=(swift azurite sftp webdav)

SWIFT_PORT=${RAIC_SWIFT_PORT:-18080}            # proxy: Swift API + S3 API
SWIFT_OBJ_PORT=${RAIC_SWIFT_OBJ_PORT:-16200}
SWIFT_CONT_PORT=${RAIC_SWIFT_CONT_PORT:-16201}
SWIFT_ACC_PORT=${RAIC_SWIFT_ACC_PORT:-16202}
SWIFT_MEMCACHE_PORT=${RAIC_SWIFT_MEMCACHE_PORT:-11311}
AZURITE_PORT=${RAIC_AZURITE_PORT:-10000}
SFTP_PORT=${RAIC_SFTP_PORT:-2222}
WEBDAV_PORT=${RAIC_WEBDAV_PORT:-18082}

# The well-known Azurite development account key (public, documented by Microsoft).
AZURITE_ACCOUNT=devstoreaccount1
AZURITE_KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='

log() { echo "[servers] $*" >&2; }
die() { echo "[servers] ERROR: $*" >&2; exit 1; }

# pick_servers NAME...: sets `names` to the NAMEs (every server when none), dying on an unknown one.
pick_servers() {
  names=("$@"); [ ${#names[@]} -eq 0 ] && names=("${ALL_SERVERS[@]}")
  local n
  for n in "${names[@]}"; do
    [[ " ${ALL_SERVERS[*]} " == *" $n "* ]] || die "unknown server '$n' (known: ${ALL_SERVERS[*]})"
  done
}

# pid_alive FILE: the process recorded in FILE exists.
pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# spawn PIDFILE LOGFILE CMD...: start CMD detached in its own session, record its PID.
spawn() {
  local pidfile=$1 logfile=$2; shift 2
  setsid nohup "$@" >"$logfile" 2>&1 </dev/null &
  echo $! >"$pidfile"
}

# stop_pids FILE...: TERM the recorded processes, wait up to 5 s, then KILL; removes the files.
# spawn made each one a session leader, so its process group holds exactly what it forked (sshd's
# per-connection children, for one): the group is signalled, and so is every descendant of the
# recorded PID (sshd moves each connection into a session of its own); never anything found by name.
stop_pids() {
  local targets=() f p t alive i
  for f in "$@"; do
    [ -f "$f" ] || continue
    p=$(cat "$f"); rm -f "$f"
    [ -n "$p" ] && kill -0 "$p" 2>/dev/null || continue
    if [ "$(ps -o pgid= -p "$p" 2>/dev/null | tr -d ' ')" = "$p" ]; then targets+=("-$p"); else targets+=("$p"); fi
    for t in $(descendants "$p"); do targets+=("$t"); done
  done
  [ ${#targets[@]} -eq 0 ] && return 0
  for t in "${targets[@]}"; do kill -TERM -- "$t" 2>/dev/null || true; done
  for i in $(seq 1 50); do
    alive=0; for t in "${targets[@]}"; do kill -0 -- "$t" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && return 0
    sleep 0.1
  done
  for t in "${targets[@]}"; do kill -KILL -- "$t" 2>/dev/null || true; done
  return 0
}

# descendants PID: the PIDs of PID's children, grandchildren, ...
descendants() {
  local c
  for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do echo "$c"; descendants "$c"; done
}

# tcp_open PORT: something accepts connections on 127.0.0.1:PORT.
tcp_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# json_str VALUE: VALUE as a JSON string literal (values here never hold control characters).
json_str() { local s=${1//\\/\\\\}; s=${s//\"/\\\"}; printf '"%s"' "$s"; }

# await_healthy WHAT PORT SECONDS PIDFILE LOG...: polls the calling script's `healthy` every 0.1 s
# for up to SECONDS and returns once it answers. Gives up early when the process in PIDFILE has died
# ('' when the server is several processes: its `healthy` checks each). On giving up it shows the
# end of each LOG, stops the server (the calling script's `stop`) and dies naming WHAT and PORT.
await_healthy() {
  local what=$1 port=$2 seconds=$3 pidfile=$4 i; shift 4
  for i in $(seq 1 $((seconds * 10))); do
    healthy && return 0
    [ -z "$pidfile" ] || pid_alive "$pidfile" || break
    sleep 0.1
  done
  tail -n 40 "$@" >&2 2>/dev/null || true
  stop
  die "$what did not come up on 127.0.0.1:$port (log: $*)"
}

# serve NAME ACTION: runs the calling script's start, stop, healthy or env_files for ACTION.
serve() {
  case ${2:-} in
    start) start ;;
    stop) stop ;;
    healthy) healthy ;;
    env) env_files ;;
    *) die "usage: $1.sh start|stop|healthy|env" ;;
  esac
}
