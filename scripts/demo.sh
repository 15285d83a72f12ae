#!/usr/bin/env bash
# The demo from a fresh clone: npm packages, the addon, the MongoDB-wire and
# S3 servers (project-local), then the example Express server invoking the
# sample functions over HTTP.
set -euo pipefail
cd "$(dirname "$0")/.."
# `npm install` rather than `npm ci`: the lock file lists optional per-platform
# packages only for the platform it was made on.
npm install --no-audit --no-fund --loglevel=error
if ! ls simple-ide-runtime.*.node >/dev/null 2>&1 || [ -n "$(find src crates sandbox Cargo.toml build.rs -newer "$(ls simple-ide-runtime.*.node | head -n1)" -type f 2>/dev/null | head -n1)" ]; then
  npx napi build --platform --release --js binding.js --dts binding.d.ts
fi
bash scripts/services.sh start
trap 'bash scripts/services.sh stop >/dev/null 2>&1 || true' EXIT
# shellcheck disable=SC1091
source .services/env
node examples/demo.mjs
