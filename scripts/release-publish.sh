#!/usr/bin/env bash
# The release workflow's publish step: checks that the tag is package.json's
# version, that npm/* are in step and each holds its binary (`napi artifacts`
# put them there), then publishes every platform package and after them the
# main package, with provenance. A version already on the registry is
# skipped, so a failed run can be re-run.
#
#   bash scripts/release-publish.sh vX.Y.Z              (in GitHub Actions: REPOSITORY_URL set)
#   bash scripts/release-publish.sh vX.Y.Z --dry-run    (anywhere: npm publish --dry-run, no provenance)
set -euo pipefail
cd "$(dirname "$0")/.."
tag=${1:?usage: release-publish.sh vX.Y.Z [--dry-run]}
dry_run=${2:-}

version=$(node -p 'require("./package.json").version')
if [ "$tag" != "v$version" ]; then
  echo "publish: tag $tag is not v$version (package.json); make it with npm version" >&2
  exit 1
fi
node scripts/package-check.mjs

for dir in npm/*/; do
  binary=$(node -p "require('./${dir}package.json').main")
  if [ ! -f "$dir$binary" ]; then
    echo "publish: $dir has no $binary (did every build job upload its artifact?)" >&2
    exit 1
  fi
done

# npm's provenance check wants package.json's repository to be the one that built it.
if [ -n "${REPOSITORY_URL:-}" ]; then
  for dir in . npm/*; do
    (cd "$dir" && npm pkg set repository.type=git "repository.url=git+$REPOSITORY_URL.git")
  done
fi

publish() {
  local dir=$1 name
  name=$(node -p "require('./$dir/package.json').name")
  if [ "$dry_run" = --dry-run ]; then
    npm publish "./$dir" --access public --dry-run
  elif npm view "$name@$version" version >/dev/null 2>&1; then
    echo "$name@$version is already published: skipped"
  else
    npm publish "./$dir" --access public --provenance
  fi
}

for dir in npm/*; do
  publish "$dir"
done
publish .
