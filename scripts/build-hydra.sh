#!/usr/bin/env bash
# Builds Ory Hydra v2.3.0 from the Go module proxy into .cache/hydra/ (ignored by git), once.
# Hydra is a tool of the small Go module in tools/hydra, which carries the `replace` directive
# Hydra's own go.mod needs (see tools/hydra/go.mod). Prints the binary's path.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
version=v2.3.0
out="$root/.cache/hydra/hydra-$version"
if [ -x "$out" ]; then
  echo "$out"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "build-hydra: Go is not installed; install Go 1.24+ or set HYDRA_BIN to a Hydra $version binary" >&2
  exit 1
fi
mkdir -p "$(dirname "$out")"
echo "build-hydra: building Hydra $version (takes a few minutes the first time)" >&2
# sqlite: DSN=memory needs it; sqlite_omit_load_extension: no dlopen in the SQLite build.
(cd "$root/tools/hydra" && CGO_ENABLED=1 go build -trimpath -tags sqlite,sqlite_omit_load_extension -o "$out.tmp" github.com/ory/hydra/v2)
mv "$out.tmp" "$out"
echo "$out"
