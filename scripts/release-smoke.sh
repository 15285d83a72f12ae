#!/usr/bin/env bash
# Installs dist/*.tgz (scripts/pack.sh) into a fresh folder, as a user does,
# and runs __test__/consumer/smoke.js there. The release workflow runs it on
# each platform it builds for; it needs only Node.js and npm.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
APP=$(mktemp -d)
trap 'rm -rf "$APP"' EXIT
cd "$APP"
echo '{ "name": "smoke-app", "version": "1.0.0", "private": true }' >package.json
npm install --no-audit --no-fund "$ROOT"/dist/*.tgz
ls node_modules/@simple-ide
cp "$ROOT/__test__/consumer/smoke.js" .
node smoke.js
