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
# build instead of two. Benchmarks use `npm run build` (the release profile).
echo "==> the addon (dist profile: the shipped build)"
npx napi build --platform --profile dist --js binding.js --dts binding.d.ts

# The *.dify suites run against the stand-in (with the real server's node
# seccomp allow-list, from this library) and then against a real Dify
# Sandbox: the user's SANDBOX_URL/SANDBOX_API_KEY if set, else the prebuilt
# server in ../shared/dify-sandbox when that folder exists (CI clones the
# repository beside it).
echo "==> the Dify Sandbox stand-in's seccomp library (test fixture)"
cargo build --quiet -p dify-standin-seccomp

REAL_DIFY_URL=${SANDBOX_URL:-}
REAL_DIFY_KEY=${SANDBOX_API_KEY:-}
STARTED_DIFY_DIR=
cleanup() {
  bash scripts/services.sh stop >/dev/null 2>&1 || true
  if [ -n "$STARTED_DIFY_DIR" ]; then bash ../shared/dify-sandbox/stop.sh "$STARTED_DIFY_DIR" >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT
if [ -z "$REAL_DIFY_URL" ] && [ -f ../shared/dify-sandbox/start.sh ]; then
  echo "==> the real Dify Sandbox (../shared/dify-sandbox)"
  started=$(bash ../shared/dify-sandbox/start.sh)
  eval "$started"
  STARTED_DIFY_DIR=$DIFY_SANDBOX_DIR
  REAL_DIFY_URL=$SANDBOX_URL
  REAL_DIFY_KEY=$SANDBOX_API_KEY
fi
# The suites choose their backend themselves; a SANDBOX_URL in the
# environment would make every suite a dify one.
unset SANDBOX_URL SANDBOX_API_KEY RUNTIME_BACKEND

echo "==> test services (MongoDB-wire server, S3 server)"
bash scripts/services.sh start
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
if [ -n "$REAL_DIFY_URL" ]; then
  echo "==> vitest: the *.dify suites again, against the real Dify Sandbox at $REAL_DIFY_URL"
  REAL_DIFY_URL=$REAL_DIFY_URL REAL_DIFY_KEY=$REAL_DIFY_KEY \
    npx vitest run .dify.test --reporter=default --reporter=json --outputFile=.services/vitest-realdify.json || status=$?
  node -e '
    const r = require("./.services/vitest-realdify.json");
    console.log(`vitest against the real Dify Sandbox: ${r.numPassedTests} passed, ${r.numFailedTests} failed`);
  ' || true
else
  echo "==> no real Dify Sandbox (set SANDBOX_URL or provide ../shared/dify-sandbox): the *.dify suites ran against the stand-in only"
fi

# Node 20 is end-of-life: the workers' side of the suite runs again with
# workers on the maintained LTS line (24), installed from the npm registry.
# The TypeScript suite too: the stack hook that hides runtime frames relies on
# how Node asks the main context's Error.prepareStackTrace.
echo "==> vitest: the security, execute and TypeScript suites with workers on Node LTS (RUNTIME_NODE_PATH)"
LTS_NODE=$(bash scripts/install-node-lts.sh)
echo "workers on $("$LTS_NODE" --version)"
RUNTIME_NODE_PATH=$LTS_NODE npx vitest run __test__/security.test.mjs __test__/execute.test.mjs __test__/typescript.test.mjs || status=$?

# ==> packaging (issue 13) — one self-contained step: lint the release
# workflow (actionlint + shellcheck, installed into .tools/), then the consumer
# test: pack dist/*.tgz, install them into a fresh Express + jest + TypeScript
# app and run it against the services above. A failure fails the run.
echo "==> packaging: release workflow lint and consumer test (scripts/lint-workflows.sh, scripts/consumer-test.sh)"
{ bash scripts/lint-workflows.sh && bash scripts/consumer-test.sh --prebuilt; } || status=$?

exit $status
