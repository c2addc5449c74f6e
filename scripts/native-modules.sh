#!/usr/bin/env bash
# Makes the native modules (better-sqlite3) loadable by the Node that scripts/node runs, rebuilding them from
# source against that Node's headers when they were built for another one (npm may run on the system's older
# Node, or a registry prebuild may match npm's Node instead of ours). Runs as npm's postinstall; CI runs it
# again with AIRUT_NODE set to switch the tree to Node 22 for a test run and back.
set -euo pipefail
cd "$(dirname "$0")/.."
NODE_BIN=$(scripts/node -p 'process.execPath')
loads() { scripts/node -e "new (require('better-sqlite3'))(':memory:').close()" 2>/dev/null; }

if loads; then
  exit 0
fi
# The headers live next to bin/ in the registry and nodejs.org builds; a distribution's Node has them in
# /usr/include/node, which node-gyp finds by itself (nodedir stays unset then).
NODE_ROOT=$(dirname "$(dirname "$NODE_BIN")")
args=(rebuild better-sqlite3)
[ -f "$NODE_ROOT/include/node/node_version.h" ] && args+=("--nodedir=$NODE_ROOT")
printf 'native-modules: building better-sqlite3 for Node %s (%s)\n' "$(scripts/node -v)" "$NODE_BIN"
npm_config_build_from_source=true npm "${args[@]}" --no-audit --no-fund >/dev/null
if ! loads; then
  printf 'native-modules: better-sqlite3 still does not load under %s; the error:\n' "$NODE_BIN" >&2
  scripts/node -e "new (require('better-sqlite3'))(':memory:').close()" >&2 || true
  exit 1
fi
