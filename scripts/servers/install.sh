#!/usr/bin/env bash
# Installs what the test servers need, skipping what is already present:
# Debian packages (apt-get update only when a package has no install candidate) and the npm dev
# dependency azurite. Safe to run repeatedly; needs root only when something is missing.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PACKAGES=(swift swift-proxy swift-account swift-container swift-object python3-swift memcached curl
          openssh-server openssh-client lighttpd lighttpd-mod-webdav)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || die "missing Debian packages: ${missing[*]} — run as root: apt-get install -y ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Wait for another apt/dpkg run instead of failing on its lock.
  APT=(apt-get -o DPkg::Lock::Timeout=600 -o Acquire::Retries=3)
  need_update=0
  for p in "${missing[@]}"; do
    cand=$(apt-cache policy "$p" 2>/dev/null | awk '/Candidate:/ {print $2}')
    if [ -z "$cand" ] || [ "$cand" = "(none)" ]; then need_update=1; break; fi
  done
  if [ $need_update = 1 ]; then log "apt-get update"; "${APT[@]}" update -q >&2; fi
  log "installing ${missing[*]}"
  "${APT[@]}" install -y -q --no-install-recommends "${missing[@]}" >&2 \
    || die "apt-get install failed for: ${missing[*]}"
fi

if [ ! -x "$RAIC_REPO/node_modules/.bin/azurite-blob" ]; then
  log "azurite missing: npm install (dev dependencies) in $RAIC_REPO"
  (cd "$RAIC_REPO" && npm install --no-audit --no-fund >&2) || die "npm install failed"
  [ -x "$RAIC_REPO/node_modules/.bin/azurite-blob" ] || die "azurite is not a dev dependency in package.json"
fi
log "install: all present"
