#!/usr/bin/env bash
# Installs a maintained Node.js LTS line (24) from the npm registry into
# .tools/node-lts, for running the workers on it (RUNTIME_NODE_PATH): Node 20,
# the default `node` of many machines, is end-of-life since 2026-04-30.
# Prints the path of the node binary.
set -euo pipefail
cd "$(dirname "$0")/.."
LINE=${NODE_LTS_LINE:-24}
case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) echo "no node-linux package for $(uname -m)" >&2; exit 1 ;;
esac
pkg="node-linux-$arch"
dir=.tools/node-lts
bin="$dir/node_modules/$pkg/bin/node"
if [ ! -x "$bin" ] || [ "$("$bin" --version | cut -d. -f1)" != "v$LINE" ]; then
  mkdir -p "$dir"
  npm install --prefix "$dir" --no-audit --no-fund --loglevel=error --no-save "$pkg@$LINE" >&2
fi
echo "$PWD/$bin"
