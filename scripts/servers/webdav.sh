#!/usr/bin/env bash
# WebDAV via lighttpd + mod_webdav on 127.0.0.1:$WEBDAV_PORT, basic auth lab/labpass.
# Usage: webdav.sh start|stop|healthy|env
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
BASE=$RAIC_SERVERS_DIR/webdav

healthy() {
  pid_alive "$BASE/lighttpd.pid" || return 1
  local code
  code=$(curl -s -m 2 -o /dev/null -w '%{http_code}' -u lab:labpass -X PROPFIND -H 'Depth: 0' "http://127.0.0.1:$WEBDAV_PORT/" || true)
  [ "$code" = 207 ]
}

stop() { stop_pids "$BASE/lighttpd.pid"; rm -f "$BASE/env.json" "$BASE/env.sh"; }

start() {
  stop
  rm -rf "$BASE"; mkdir -p "$BASE/data" "$BASE/tmp"
  echo 'lab:labpass' >"$BASE/users"
  # propfind-depth-infinity: deep listing in one request.
  cat >"$BASE/lighttpd.conf" <<C
server.document-root = "$BASE/data"
server.bind = "127.0.0.1"
server.port = $WEBDAV_PORT
server.errorlog = "$BASE/error.log"
server.upload-dirs = ( "$BASE/tmp" )
server.modules = ( "mod_auth", "mod_authn_file", "mod_webdav" )
webdav.activate = "enable"
webdav.is-readonly = "disable"
webdav.sqlite-db-name = "$BASE/webdav.db"
webdav.opts = ( "propfind-depth-infinity" => "enable" )
auth.backend = "plain"
auth.backend.plain.userfile = "$BASE/users"
auth.require = ( "/" => ( "method" => "basic", "realm" => "lab", "require" => "valid-user" ) )
mimetype.assign = ( "" => "application/octet-stream" )
C
  spawn "$BASE/lighttpd.pid" "$BASE/stdout.log" /usr/sbin/lighttpd -D -f "$BASE/lighttpd.conf"
  await_healthy 'lighttpd (webdav)' "$WEBDAV_PORT" 10 "$BASE/lighttpd.pid" "$BASE/error.log" "$BASE/stdout.log"
}

env_files() {
  cat >"$BASE/env.json" <<J
{ "url": "http://127.0.0.1:$WEBDAV_PORT/", "username": "lab", "password": "labpass", "root": $(json_str "$BASE/data") }
J
  cat >"$BASE/env.sh" <<S
export RAIC_WEBDAV_URL=http://127.0.0.1:$WEBDAV_PORT/ RAIC_WEBDAV_USER=lab RAIC_WEBDAV_PASSWORD=labpass
S
}

serve webdav "$@"
