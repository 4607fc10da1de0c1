#!/usr/bin/env bash
# Builds the Ory Hydra versions the end-to-end suites run against, from the Go module proxy, into
# .cache/hydra/hydra-<version> (ignored by git), once each. Prints each binary's path.
#
#   bash scripts/build-hydra.sh                  both: v2.3.0 and v1.11.10
#   bash scripts/build-hydra.sh v1.11.10         just one (also: npm run hydra:build -- v1.11.10)
#   HYDRA_VERSION=v2.3.0 bash scripts/build-hydra.sh
#
# Each version is a tool of its own small Go module, which carries the `replace` directives of that
# Hydra's go.mod (a dependency's replaces do not apply): tools/hydra (v2) and tools/hydra-v1. The
# builds run one after the other and share Go's build and module caches, so the second reuses
# every package the first compiled.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
all=(v2.3.0 v1.11.10)

if [ $# -gt 0 ]; then
  versions=("$@")
elif [ -n "${HYDRA_VERSION:-}" ]; then
  versions=("$HYDRA_VERSION")
else
  versions=("${all[@]}")
fi

build() {
  local version=$1 module package ldflags=""
  case "$version" in
    v2.3.0)
      module=tools/hydra
      package=github.com/ory/hydra/v2
      ;;
    v1.11.10)
      module=tools/hydra-v1
      package=github.com/ory/hydra
      ;;
    *)
      echo "build-hydra: unknown version $version (known: ${all[*]})" >&2
      return 1
      ;;
  esac
  # Hydra reports this variable (`hydra version`, GET /version); unset, it says "master".
  ldflags="-X $package/driver/config.Version=$version"
  local out="$root/.cache/hydra/hydra-$version"
  if [ -x "$out" ]; then
    echo "$out"
    return 0
  fi
  if ! command -v go >/dev/null 2>&1; then
    echo "build-hydra: Go is not installed; install Go 1.24+ or set HYDRA_BIN / HYDRA_V1_BIN to a Hydra $version binary" >&2
    return 1
  fi
  mkdir -p "$(dirname "$out")"
  echo "build-hydra: building Hydra $version (a few minutes the first time)" >&2
  local t0=$SECONDS
  # sqlite: DSN=memory needs it; sqlite_omit_load_extension: no dlopen in the SQLite build.
  (cd "$root/$module" && CGO_ENABLED=1 go build -trimpath -tags sqlite,sqlite_omit_load_extension -ldflags "$ldflags" -o "$out.tmp" "$package")
  mv "$out.tmp" "$out"
  echo "build-hydra: Hydra $version built in $((SECONDS - t0))s" >&2
  echo "$out"
}

for version in "${versions[@]}"; do
  build "$version"
done
