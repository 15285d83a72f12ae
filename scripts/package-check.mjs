// Keeps the npm packages in step: one per `napi.targets` entry under npm/
// (as `napi create-npm-dirs` lays them out), each at the main package's
// version, each in the main package's optionalDependencies at exactly that
// version, and the loader (binding.js) expecting that version.
//
//   node scripts/package-check.mjs            check; exit 1 naming every mismatch
//   node scripts/package-check.mjs --write    set them all to package.json's version
//                                             (the `version` script: `npm version X` runs it)
import { readFileSync, writeFileSync, existsSync } from 'node:fs'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseTriple } from '@napi-rs/cli'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const write = process.argv.includes('--write')
const readJson = (p) => JSON.parse(readFileSync(join(root, p), 'utf8'))
const writeJson = (p, v) => writeFileSync(join(root, p), JSON.stringify(v, null, 2) + '\n')

const pkg = readJson('package.json')
const { version } = pkg
const { packageName, binaryName, targets } = pkg.napi
const problems = []

const expected = {}
for (const triple of targets) {
  const { platformArchABI } = parseTriple(triple)
  const dir = `npm/${platformArchABI}`
  const name = `${packageName}-${platformArchABI}`
  expected[name] = version
  if (!existsSync(join(root, dir, 'package.json'))) {
    problems.push(`${dir}/package.json is missing (run: npx napi create-npm-dirs)`)
    continue
  }
  const sub = readJson(`${dir}/package.json`)
  const binary = `${binaryName}.${platformArchABI}.node`
  if (sub.name !== name) problems.push(`${dir}: name is ${sub.name}, expected ${name}`)
  if (sub.main !== binary || !(sub.files ?? []).includes(binary)) problems.push(`${dir}: main/files must be ${binary}`)
  if (sub.version !== version) {
    if (write) writeJson(`${dir}/package.json`, { ...sub, version })
    else problems.push(`${dir}: version ${sub.version}, expected ${version}`)
  }
}

const optional = pkg.optionalDependencies ?? {}
const same = JSON.stringify(optional) === JSON.stringify(expected)
if (!same) {
  if (write) {
    pkg.optionalDependencies = expected
    writeJson('package.json', pkg)
  } else {
    problems.push(`package.json optionalDependencies ${JSON.stringify(optional)}, expected ${JSON.stringify(expected)}`)
  }
}

// The generated loader checks the platform package's version against the one
// it was generated for; `napi build` writes it, --write keeps it in step too.
const loader = readFileSync(join(root, 'binding.js'), 'utf8')
const seen = new Set([...loader.matchAll(/bindingPackageVersion !== '([^']+)'/g)].map((m) => m[1]))
if (seen.size !== 1 || !seen.has(version)) {
  if (write) {
    writeFileSync(
      join(root, 'binding.js'),
      loader
        .replace(/bindingPackageVersion !== '[^']+'/g, `bindingPackageVersion !== '${version}'`)
        .replace(/expected [^ ]+ but got/g, `expected ${version} but got`),
    )
  } else {
    problems.push(`binding.js expects platform package version(s) ${[...seen].join(', ')}, expected ${version} (rebuild, or run with --write)`)
  }
}

if (problems.length) {
  console.error(`package check: ${problems.length} problem(s)\n  ${problems.join('\n  ')}`)
  process.exit(1)
}
console.log(`package check: ${packageName}@${version} and ${targets.length} platform packages in step${write ? ' (written)' : ''}`)
