import assert from 'node:assert/strict'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, normalize, relative } from 'node:path'
import { test } from 'node:test'
import ts from 'typescript'

/**
 * The layer order of docs/architecture.md, lowest first. A folder of src/ (or a file at its root)
 * may import from its own folder and from lower layers only; imports never form a cycle.
 */
const LAYERS: readonly (readonly string[])[] = [
  ['common', 'errors.ts'],
  ['jsonrpc', 'metadata', 'observability'],
  ['state', 'proxy'],
  ['token'],
  ['identity', 'lockout', 'policy', 'ratelimit', 'revocation'],
  ['config'],
  ['server'],
  ['check', 'library', 'probe'],
  ['adapters', 'cli', 'demo', 'index.ts'],
]

const SRC = new URL('../../src/', import.meta.url).pathname
const LAYER_OF = new Map(LAYERS.flatMap((units, layer) => units.map((unit) => [unit, layer] as const)))

interface Edge {
  from: string
  to: string
  typeOnly: boolean
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? sourceFiles(path) : name.endsWith('.ts') ? [path] : []
  })
}

/** `token/jwt.ts` -> `token`; `errors.ts` -> `errors.ts`. */
function unitOf(file: string): string {
  const rel = relative(SRC, file)
  const slash = rel.indexOf('/')
  return slash === -1 ? rel : rel.slice(0, slash)
}

/** Relative imports and re-exports of every file in src/, read by the TypeScript scanner. */
function importGraph(): Edge[] {
  const edges: Edge[] = []
  for (const file of sourceFiles(SRC)) {
    const text = readFileSync(file, 'utf8')
    const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, false)
    for (const statement of source.statements) {
      let specifier: ts.Expression | undefined
      let typeOnly = false
      if (ts.isImportDeclaration(statement)) {
        specifier = statement.moduleSpecifier
        const clause = statement.importClause
        typeOnly =
          clause !== undefined &&
          (clause.isTypeOnly ||
            (clause.name === undefined &&
              clause.namedBindings !== undefined &&
              ts.isNamedImports(clause.namedBindings) &&
              clause.namedBindings.elements.length > 0 &&
              clause.namedBindings.elements.every((e) => e.isTypeOnly)))
      } else if (ts.isExportDeclaration(statement) && statement.moduleSpecifier !== undefined) {
        specifier = statement.moduleSpecifier
        typeOnly = statement.isTypeOnly
      }
      if (specifier === undefined || !ts.isStringLiteral(specifier) || !specifier.text.startsWith('.')) continue
      const to = normalize(join(dirname(file), specifier.text.replace(/\.js$/, '.ts')))
      edges.push({ from: file, to, typeOnly })
    }
  }
  return edges
}

test('every folder of src/ has a layer in docs/architecture.md', () => {
  const architecture = readFileSync(new URL('../../docs/architecture.md', import.meta.url), 'utf8')
  const units = new Set(sourceFiles(SRC).map(unitOf))
  for (const unit of units) {
    assert.ok(LAYER_OF.has(unit), `src/${unit} has no layer: add it to LAYERS here and to docs/architecture.md`)
  }
  for (const unit of LAYER_OF.keys()) {
    assert.ok(units.has(unit), `LAYERS names src/${unit}, which does not exist`)
    assert.ok(architecture.includes(`\`${unit.endsWith('.ts') ? unit : `${unit}/`}\``), `docs/architecture.md does not describe src/${unit}`)
  }
})

/** Imports from a folder to one of the same or a higher layer, as `from -> to` (paths under src/). */
function layerViolations(edges: readonly Edge[]): string[] {
  return edges
    .filter(({ from, to }) => unitOf(from) !== unitOf(to) && (LAYER_OF.get(unitOf(to)) ?? Infinity) >= (LAYER_OF.get(unitOf(from)) ?? -1))
    .map(({ from, to }) => `${relative(SRC, from)} -> ${relative(SRC, to)}`)
}

/** Cycles among value imports (type-only imports vanish at run time), each as `a -> b -> a`. */
function importCycles(edges: readonly Edge[]): string[] {
  const next = new Map<string, string[]>()
  for (const { from, to, typeOnly } of edges) if (!typeOnly) next.set(from, [...(next.get(from) ?? []), to])
  // Depth-first; a file met again while still on the path closes a cycle.
  const state = new Map<string, 'open' | 'done'>()
  const cycles: string[] = []
  const visit = (file: string, path: string[]): void => {
    state.set(file, 'open')
    for (const to of next.get(file) ?? []) {
      if (state.get(to) === 'open') cycles.push([...path.slice(path.indexOf(to)), to].map((f) => relative(SRC, f)).join(' -> '))
      else if (state.get(to) === undefined) visit(to, [...path, to])
    }
    state.set(file, 'done')
  }
  for (const file of next.keys()) if (state.get(file) === undefined) visit(file, [file])
  return cycles
}

test('imports point down the layers only', () => {
  assert.deepEqual(layerViolations(importGraph()), [], 'imports against the layer order (docs/architecture.md)')
})

test('no import cycle between files', () => {
  assert.deepEqual(importCycles(importGraph()), [])
})

test('the checks find what they look for', () => {
  const at = (path: string) => join(SRC, path)
  const up = { from: at('common/units.ts'), to: at('server/http.ts'), typeOnly: true }
  const down = { from: at('server/http.ts'), to: at('common/units.ts'), typeOnly: false }
  const sideways = { from: at('state/store.ts'), to: at('proxy/forward.ts'), typeOnly: false }
  assert.deepEqual(layerViolations([up, down, sideways]), ['common/units.ts -> server/http.ts', 'state/store.ts -> proxy/forward.ts'])
  const loop = [
    { from: at('token/a.ts'), to: at('token/b.ts'), typeOnly: false },
    { from: at('token/b.ts'), to: at('token/a.ts'), typeOnly: false },
  ]
  assert.deepEqual(importCycles(loop), ['token/a.ts -> token/b.ts -> token/a.ts'])
  assert.deepEqual(importCycles([loop[0] as Edge, { ...(loop[1] as Edge), typeOnly: true }]), [])
})
