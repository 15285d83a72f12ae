#!/usr/bin/env bash
# Installable tarballs of this checkout, for the host platform, in dist/:
#   dist/simple-ide-runtime-<version>.tgz                  the main package (loader, types)
#   dist/simple-ide-runtime-<platform>-<version>.tgz       the host's native binary package
# Install them together in any app (both at once: the main package's
# optionalDependency on the platform package then resolves to the tarball):
#   npm install /path/to/dist/*.tgz
# Needs what the build needs (Node.js, Rust); prints each tarball's size.
#
#   bash scripts/pack.sh                                  build for the host, then pack
#   bash scripts/pack.sh --prebuilt --target <triple>     pack a binary built elsewhere (the
#                                                         release workflow's artifact, already
#                                                         at ./simple-ide-runtime.<platform>.node)
set -euo pipefail
cd "$(dirname "$0")/.."

prebuilt=0
target=
while [ $# -gt 0 ]; do
  case $1 in
    --prebuilt) prebuilt=1 ;;
    --target) target=$2; shift ;;
    *) echo "pack: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

[ -x node_modules/.bin/napi ] || npm install --no-audit --no-fund --loglevel=error

node scripts/package-check.mjs

if [ -z "$target" ]; then
  target=$(rustc -vV | sed -n 's/^host: //p')
fi
abi=$(node --input-type=module -e "import { parseTriple } from '@napi-rs/cli'; console.log(parseTriple('$target').platformArchABI)")
binary="simple-ide-runtime.$abi.node"
if [ ! -d "npm/$abi" ]; then
  echo "pack: $target ($abi) is not one of package.json's napi.targets" >&2
  exit 1
fi

if [ "$prebuilt" = 1 ]; then
  [ -f "$binary" ] || { echo "pack: --prebuilt, but $binary is not here" >&2; exit 1; }
else
  echo "==> the addon (profile dist: the release build, size-optimised)"
  npx napi build --platform --profile dist --js binding.js --dts binding.d.ts
fi

# The binary as shipped: stripped (Cargo.toml's release profile) and small.
size=$(stat -c %s "$binary" 2>/dev/null || stat -f %z "$binary")
limit=$((15 * 1024 * 1024))
if [ "$size" -ge "$limit" ]; then
  echo "pack: $binary is $size bytes, over the 15 MiB budget" >&2
  exit 1
fi
if command -v file >/dev/null && file "$binary" | grep -q 'not stripped'; then
  echo "pack: $binary is not stripped (Cargo.toml [profile.release] strip)" >&2
  exit 1
fi
cp "$binary" "npm/$abi/"

rm -rf dist && mkdir -p dist
npm pack --silent --pack-destination dist >/dev/null
(cd "npm/$abi" && npm pack --silent --pack-destination ../../dist >/dev/null)

# The main package carries no binary (the platform package does) and the
# platform package nothing but it.
main_files=$(tar -tzf dist/simple-ide-runtime-[0-9]*.tgz | sort | tr '\n' ' ')
expected_main="package/README.md package/binding.js package/index.d.ts package/index.js package/package.json package/sandbox/sdk.js "
if [ "$main_files" != "$expected_main" ]; then
  echo "pack: the main tarball holds [$main_files], expected [$expected_main]" >&2
  exit 1
fi
plat_files=$(tar -tzf "dist/simple-ide-runtime-$abi-"*.tgz | sort | tr '\n' ' ')
if [ "$plat_files" != "package/README.md package/package.json package/$binary " ]; then
  echo "pack: the $abi tarball holds [$plat_files]" >&2
  exit 1
fi

echo "==> dist/ (binary $binary: $size bytes, stripped)"
ls -l dist/*.tgz | awk '{ print "  " $5 " bytes  " $NF }'
echo "install with: npm install $(pwd)/dist/*.tgz"
