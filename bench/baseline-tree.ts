import { execFileSync } from 'node:child_process'
import { copyFileSync, cpSync, existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { REPO_ROOT } from './gateway-process.js'

/**
 * The hot-path code the benchmark's owner may change; `--baseline REF` takes it from REF: whole
 * directories (files added or removed since REF included, so a change split over new files is
 * measured whole) and single files.
 */
export const HOT_PATH_DIRS = ['src/proxy', 'src/server', 'src/token', 'src/observability', 'src/common'] as const
export const HOT_PATH_FILES = [] as const
export const HOT_PATH_DESCRIPTION = 'src/proxy/, src/server/, src/token/, src/observability/, src/common/'

/**
 * A copy of the working tree's `src/` in which the hot-path files are replaced by their versions at
 * `ref`, so a change to them is measured before/after in the same run, against the same everything
 * else (other work in progress included). Reads git only (`git show`); writes only under `dir`.
 */
export function createBaselineTree(ref: string, dir: string): string {
  // A directory: a prepared copy of the repository (an experiment on files the benchmark does not
  // own, made outside the working tree); only node_modules is linked in if missing.
  if (ref.startsWith('/') && existsSync(join(ref, 'src/cli/main.ts'))) {
    if (!existsSync(join(ref, 'node_modules'))) symlinkSync(join(REPO_ROOT, 'node_modules'), join(ref, 'node_modules'), 'dir')
    return ref
  }
  const root = join(dir, 'baseline')
  mkdirSync(root, { recursive: true })
  cpSync(join(REPO_ROOT, 'src'), join(root, 'src'), { recursive: true })
  for (const file of ['package.json', 'tsconfig.json', 'tsconfig.build.json']) copyFileSync(join(REPO_ROOT, file), join(root, file))
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(root, 'node_modules'), 'dir')
  // `.`: the working tree as it is, to check that the copy itself measures the same (A/A).
  if (ref === '.') return root
  const git = (args: string[]) => execFileSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8', maxBuffer: 1 << 24 })
  const files: string[] = [...(HOT_PATH_FILES as readonly string[])]
  for (const dir of HOT_PATH_DIRS) {
    rmSync(join(root, dir), { recursive: true, force: true })
    files.push(...git(['ls-tree', '-r', '--name-only', ref, '--', dir]).split('\n').filter((f) => f !== ''))
  }
  for (const file of files) {
    mkdirSync(dirname(join(root, file)), { recursive: true })
    writeFileSync(join(root, file), git(['show', `${ref}:${file}`]))
  }
  return root
}
