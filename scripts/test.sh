#!/usr/bin/env bash
# The whole test suite from a fresh clone: installs what it needs (npm
# packages, the addon build, the MongoDB-wire and S3 servers into
# project-local, git-ignored folders), runs `cargo test` for the Rust core and
# vitest over the built addon, and stops the services it started.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "==> npm packages"
# `npm install` rather than `npm ci`: the lock file lists optional per-platform
# packages only for the platform it was made on.
npm install --no-audit --no-fund --loglevel=error

# One build, of what the npm packages ship (Cargo's `dist` profile: fat LTO,
# size-optimised, under the 15 MB budget): vitest and the consumer test run
# over the very binary a user installs, and CI pays for one release-grade
# build instead of two. Benchmarks use `npx napi build --platform --release`.
echo "==> the addon (dist profile: the shipped build)"
npx napi build --platform --profile dist

echo "==> test services (MongoDB-wire server, S3 server)"
bash scripts/services.sh start
trap 'bash scripts/services.sh stop >/dev/null 2>&1 || true' EXIT
# shellcheck disable=SC1091
source .services/env

# The dev profile, not --release: `napi build` writes to target/<triple>/ so a
# release test build shares nothing with it, and thin-LTO linking of every
# test binary took 12 of CI's 21 minutes; a debug build takes 4.
echo "==> cargo test (Rust core, dev profile)"
cargo test --workspace

echo "==> vitest (the addon as Node sees it, and the Express example over HTTP)"
status=0
npx vitest run --reporter=default --reporter=json --outputFile=.services/vitest.json || status=$?
node -e '
  const r = require("./.services/vitest.json");
  console.log(`vitest: ${r.numPassedTests} passed, ${r.numFailedTests} failed`);
' || true

# ==> packaging (issue 13) — one self-contained step: lint the release
# workflow (actionlint + shellcheck, installed into .tools/), then the consumer
# test: pack dist/*.tgz, install them into a fresh Express + jest + TypeScript
# app and run it against the services above. A failure fails the run.
echo "==> packaging: release workflow lint and consumer test (scripts/lint-workflows.sh, scripts/consumer-test.sh)"
{ bash scripts/lint-workflows.sh && bash scripts/consumer-test.sh --prebuilt; } || status=$?

exit $status
