#!/usr/bin/env bash
# OpenStack Swift all-in-one (proxy + account + container + object + memcached) on 127.0.0.1, with
# tempauth and s3api, so one proxy port serves both the Swift and the S3 API.
#   Swift API: http://127.0.0.1:$SWIFT_PORT/auth/v1.0  user test:tester  key testing (and test2:tester2/testing2)
#   S3 API   : http://127.0.0.1:$SWIFT_PORT  access key test:tester  secret testing  region us-east-1
# Usage: swift.sh start|stop|healthy|env
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
BASE=$RAIC_SERVERS_DIR/swift
ETC=$BASE/etc; DEV=$BASE/srv; RUN=$BASE/run; LOG=$BASE/log
PY=/usr/bin/python3               # the Debian python (a pyenv/venv python lacks the swift module)
RUNUSER=$(id -un)

healthy() {
  local f token
  for f in memcached account container object proxy; do pid_alive "$RUN/$f.pid" || return 1; done
  token=$(curl -fs -m 2 -o /dev/null -D - -H 'X-Auth-User: test:tester' -H 'X-Auth-Key: testing' \
          "http://127.0.0.1:$SWIFT_PORT/auth/v1.0" 2>/dev/null \
          | awk -F': ' 'tolower($1)=="x-auth-token"{print $2}' | tr -d '\r') || return 1
  [ -n "$token" ] && curl -fsI -m 2 -o /dev/null -H "X-Auth-Token: $token" "http://127.0.0.1:$SWIFT_PORT/v1/AUTH_test"
}

stop() { stop_pids "$RUN"/proxy.pid "$RUN"/object.pid "$RUN"/container.pid "$RUN"/account.pid "$RUN"/memcached.pid; rm -f "$BASE/env.json" "$BASE/env.sh"; }

start() {
  stop
  rm -rf "$BASE"; mkdir -p "$ETC" "$DEV/d1" "$RUN" "$LOG"
  # Object metadata lives in user xattrs: fail early and clearly if the filesystem lacks them.
  $PY - "$DEV/d1" <<'PYX' || die "no user xattrs on $DEV: set RAIC_SERVERS_DIR to a dir on ext4/xfs/btrfs"
import os, sys; p = os.path.join(sys.argv[1], '.xattr-probe'); open(p, 'w').close()
os.setxattr(p, 'user.swift.probe', b'1'); os.unlink(p)
PYX

  cat >"$ETC/swift.conf" <<C
[swift-hash]
swift_hash_path_suffix = raicsuffix
swift_hash_path_prefix = raicprefix
[storage-policy:0]
name = Policy-0
default = yes
C
  local name port
  for name in object container account; do
    case $name in object) port=$SWIFT_OBJ_PORT;; container) port=$SWIFT_CONT_PORT;; account) port=$SWIFT_ACC_PORT;; esac
    cat >"$ETC/$name-server.conf" <<C
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $port
workers = 0
user = $RUNUSER
swift_dir = $ETC
devices = $DEV
mount_check = false
disable_fallocate = true
log_level = INFO
[pipeline:main]
pipeline = $name-server
[app:$name-server]
use = egg:swift#$name
C
  done

  cat >"$ETC/proxy-server.conf" <<C
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $SWIFT_PORT
workers = 0
user = $RUNUSER
swift_dir = $ETC
log_level = INFO

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk tempurl s3api tempauth copy slo dlo versioned_writes symlink proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true

[filter:tempauth]
use = egg:swift#tempauth
# user_<account>_<user> = <key> [groups]; S3 access key = "<account>:<user>", secret = <key>
user_admin_admin = admin .admin .reseller_admin
user_test_tester = testing .admin
user_test2_tester2 = testing2 .admin

[filter:s3api]
use = egg:swift#s3api
location = us-east-1
allow_multipart_uploads = true
s3_acl = false

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:$SWIFT_MEMCACHE_PORT

[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:healthcheck]
use = egg:swift#healthcheck
[filter:proxy-logging]
use = egg:swift#proxy_logging
[filter:listing_formats]
use = egg:swift#listing_formats
[filter:bulk]
use = egg:swift#bulk
[filter:tempurl]
use = egg:swift#tempurl
[filter:copy]
use = egg:swift#copy
[filter:slo]
use = egg:swift#slo
[filter:dlo]
use = egg:swift#dlo
[filter:versioned_writes]
use = egg:swift#versioned_writes
allow_object_versioning = true
[filter:symlink]
use = egg:swift#symlink
C

  # Rings: 1 device, 1 replica, part power 6, in one python call (swift-ring-builder x9 costs ~6 s).
  $PY - "$ETC" "$SWIFT_ACC_PORT" "$SWIFT_CONT_PORT" "$SWIFT_OBJ_PORT" <<'PYR'
import sys
from swift.common.ring import RingBuilder
etc, ports = sys.argv[1], dict(zip(('account', 'container', 'object'), map(int, sys.argv[2:5])))
for name, port in ports.items():
    b = RingBuilder(6, 1, 1)
    b.add_dev({'id': 0, 'region': 1, 'zone': 1, 'ip': '127.0.0.1', 'port': port,
               'replication_ip': '127.0.0.1', 'replication_port': port,
               'device': 'd1', 'weight': 1, 'meta': ''})
    b.rebalance()
    b.save(f'{etc}/{name}.builder')
    b.get_ring().save(f'{etc}/{name}.ring.gz')
PYR

  spawn "$RUN/memcached.pid" "$LOG/memcached.log" /usr/bin/memcached -l 127.0.0.1 -p "$SWIFT_MEMCACHE_PORT" -U 0 -m 32 -u "$RUNUSER"
  for name in account container object proxy; do
    spawn "$RUN/$name.pid" "$LOG/$name.log" $PY "/usr/bin/swift-$name-server" "$ETC/$name-server.conf" -v
  done

  await_healthy swift "$SWIFT_PORT" 30 '' "$LOG"/{memcached,account,container,object,proxy}.log
}

env_files() {
  local ep="http://127.0.0.1:$SWIFT_PORT"
  cat >"$BASE/env.json" <<J
{
  "endpoint": $(json_str "$ep"),
  "s3": { "endpoint": $(json_str "$ep"), "region": "us-east-1", "accessKeyId": "test:tester", "secretAccessKey": "testing" },
  "s3Second": { "endpoint": $(json_str "$ep"), "region": "us-east-1", "accessKeyId": "test2:tester2", "secretAccessKey": "testing2" },
  "swift": { "authUrl": $(json_str "$ep/auth/v1.0"), "username": "test:tester", "key": "testing" },
  "swiftSecond": { "authUrl": $(json_str "$ep/auth/v1.0"), "username": "test2:tester2", "key": "testing2" }
}
J
  cat >"$BASE/env.sh" <<S
export RAIC_SWIFT_ENDPOINT=$ep
export RAIC_SWIFT_AUTH_URL=$ep/auth/v1.0 RAIC_SWIFT_USER=test:tester RAIC_SWIFT_KEY=testing
export RAIC_S3_ENDPOINT=$ep RAIC_S3_REGION=us-east-1 RAIC_S3_ACCESS_KEY_ID=test:tester RAIC_S3_SECRET_ACCESS_KEY=testing
S
}

serve swift "$@"
