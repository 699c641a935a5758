#!/usr/bin/env bash
# OpenSSH sftp-only server on 127.0.0.1:$SFTP_PORT with throwaway host and user keys (no systemd).
# Login: the current user with private key $BASE/id_ed25519; files live in $BASE/data (the start dir).
# Usage: sftp.sh start|stop|healthy|env
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
BASE=$RAIC_SERVERS_DIR/sftp
USER_NAME=$(id -un)

healthy() {
  pid_alive "$BASE/sshd.pid" || return 1
  # An SSH server greets first: read its banner.
  local banner
  banner=$(timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$SFTP_PORT; head -c 4 <&3" 2>/dev/null) || return 1
  [ "$banner" = SSH- ]
}

stop() { stop_pids "$BASE/sshd.pid"; rm -f "$BASE/env.json" "$BASE/env.sh"; }

start() {
  stop
  rm -rf "$BASE"; mkdir -p "$BASE/data"
  [ "$(id -u)" = 0 ] && mkdir -p /run/sshd   # the privilege-separation dir sshd insists on as root
  ssh-keygen -q -t ed25519 -N '' -C raic-test-host -f "$BASE/ssh_host_ed25519_key"
  ssh-keygen -q -t ed25519 -N '' -C raic-test-user -f "$BASE/id_ed25519"
  cp "$BASE/id_ed25519.pub" "$BASE/authorized_keys"
  # StrictModes no: keys under /tmp; UsePAM no: no PAM stack needed for key auth.
  cat >"$BASE/sshd_config" <<C
Port $SFTP_PORT
ListenAddress 127.0.0.1
HostKey $BASE/ssh_host_ed25519_key
PidFile none
AuthorizedKeysFile $BASE/authorized_keys
AllowUsers $USER_NAME
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
X11Forwarding no
AllowTcpForwarding no
PrintMotd no
LogLevel VERBOSE
Subsystem sftp internal-sftp
ForceCommand internal-sftp -d $BASE/data
C
  /usr/sbin/sshd -t -f "$BASE/sshd_config" || die "sshd rejected $BASE/sshd_config"
  spawn "$BASE/sshd.pid" "$BASE/sshd.log" /usr/sbin/sshd -D -e -f "$BASE/sshd_config"
  await_healthy sshd "$SFTP_PORT" 10 "$BASE/sshd.pid" "$BASE/sshd.log"
}

env_files() {
  cat >"$BASE/env.json" <<J
{ "host": "127.0.0.1", "port": $SFTP_PORT, "username": $(json_str "$USER_NAME"),
  "privateKeyPath": $(json_str "$BASE/id_ed25519"), "root": $(json_str "$BASE/data") }
J
  cat >"$BASE/env.sh" <<S
export RAIC_SFTP_HOST=127.0.0.1 RAIC_SFTP_PORT=$SFTP_PORT RAIC_SFTP_USER=$USER_NAME
export RAIC_SFTP_KEY=$BASE/id_ed25519 RAIC_SFTP_ROOT=$BASE/data
S
}

serve sftp "$@"
