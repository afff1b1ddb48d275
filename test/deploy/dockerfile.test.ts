import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { cpSync, mkdirSync, readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { DockerfileParser, type Instruction, type JSONInstruction, type ModifiableInstruction } from 'dockerfile-ast'
import { validate } from 'dockerfile-utils'
import { reservePort } from '../../src/demo/reserve-port.js'
import { spawnServe, type CliProcess } from '../support/cli-process.js'
import { createOpsFixture, LIST_TOOLS, postStreaming, type OpsFixture } from '../support/ops-fixture.js'

/**
 * The repository's Dockerfile. There is no Docker daemon here, so the image is never built: the
 * file is linted (dockerfile-utils, the linter of the VS Code Docker extension), its essential
 * properties are checked on its syntax tree, and its runtime stage is carried out on this machine
 * (its COPY and RUN steps, in order, in a temporary folder standing for /app) and the result is
 * started the way ENTRYPOINT and CMD start it, probed with the HEALTHCHECK command and stopped
 * with STOPSIGNAL. The build stage's `npm ci` (which compiles through `prepare`) is the step
 * .ci/run itself runs on a clean clone; here its output is made with the same tsc.
 */

const REPO = fileURLToPath(new URL('../../', import.meta.url))
const TEXT = readFileSync(join(REPO, 'Dockerfile'), 'utf8')
const dockerfile = DockerfileParser.parse(TEXT)
const instructions = dockerfile.getInstructions()

/** The instructions of each stage, in order; a stage starts at its FROM. */
function stages(): Instruction[][] {
  const out: Instruction[][] = []
  for (const instruction of instructions) {
    if (instruction.getKeyword() === 'FROM') out.push([])
    out.at(-1)?.push(instruction)
  }
  return out
}
const [buildStage, runtimeStage] = stages() as [Instruction[], Instruction[]]
const inRuntime = (keyword: string) => runtimeStage.filter((i) => i.getKeyword() === keyword)
const args = (i: Instruction) => i.getArguments().map((a) => a.getValue())
const json = (i: Instruction) => (i as JSONInstruction).getJSONStrings().map((s) => s.getJSONValue())
const flag = (i: Instruction, name: string) =>
  (i as ModifiableInstruction).getFlags().find((f) => f.getName() === name)?.getValue() ?? undefined

/** HEALTHCHECK's exec-form command (the JSON array after CMD). */
function healthcheckCommand(): string[] {
  const text = inRuntime('HEALTHCHECK')[0]!.getTextContent().replace(/\\\r?\n/g, ' ')
  return JSON.parse(text.slice(text.indexOf(' CMD ') + ' CMD '.length)) as string[]
}

/** ENV of the runtime stage, as the container starts with it. */
function imageEnv(): Record<string, string> {
  const env: Record<string, string> = {}
  for (const instruction of inRuntime('ENV')) {
    for (const property of (instruction as unknown as { getProperties(): { getName(): string; getValue(): string | null }[] }).getProperties()) {
      env[property.getName()] = property.getValue() ?? ''
    }
  }
  return env
}

describe('Dockerfile: lint and essential properties', () => {
  test('the linter reports nothing', () => {
    assert.deepEqual(validate(TEXT), [])
  })

  test('the linter is not blind: it reports a broken Dockerfile', () => {
    assert.ok(validate('FROM node:20-bookworm-slim\nEXPOSE http\nHEALTHCHECK --interval=fast CMD true\n').length >= 2)
  })

  test('two stages: a build stage named build, and a runtime stage from the same base', () => {
    assert.equal(stages().length, 2)
    assert.deepEqual(args(buildStage[0]!), ['node:20-bookworm-slim', 'AS', 'build'])
    assert.deepEqual(args(runtimeStage[0]!), ['node:20-bookworm-slim'])
  })

  test('the runtime stage holds production dependencies and dist/ only', () => {
    const runs = inRuntime('RUN').map((i) => args(i).filter((a) => !a.startsWith('--mount')).join(' '))
    assert.deepEqual(runs, ['npm ci --omit=dev --ignore-scripts --no-audit --no-fund'])
    const copies = inRuntime('COPY').map((i) => [flag(i, 'from') ?? '', ...args(i).filter((a) => !a.startsWith('--'))])
    assert.deepEqual(copies, [
      ['', 'package.json', 'package-lock.json', './'],
      ['build', '/app/dist', './dist'],
    ])
  })

  test('it runs as the unprivileged node user, set before ENTRYPOINT', () => {
    const users = inRuntime('USER')
    assert.equal(users.length, 1)
    assert.deepEqual(args(users[0]!), ['node'])
    const order = runtimeStage.map((i) => i.getKeyword())
    assert.ok(order.indexOf('USER') < order.indexOf('ENTRYPOINT'))
    assert.ok(order.lastIndexOf('RUN') < order.indexOf('USER'), 'nothing runs as root after USER')
  })

  test('EXPOSE names the ports the image sets; ENTRYPOINT, CMD, STOPSIGNAL and HEALTHCHECK are as documented', () => {
    const env = imageEnv()
    assert.deepEqual(inRuntime('EXPOSE').flatMap(args), [env.MCP_LISTEN_PORT, env.MCP_ADMIN_PORT])
    assert.deepEqual(json(inRuntime('ENTRYPOINT')[0]!), ['node', 'dist/cli/main.js'])
    assert.deepEqual(json(inRuntime('CMD')[0]!), ['serve'])
    assert.deepEqual(args(inRuntime('STOPSIGNAL')[0]!), ['SIGTERM'])
    const healthcheck = inRuntime('HEALTHCHECK')[0]!
    assert.match(healthcheck.getTextContent(), /\/healthz/)
    assert.doesNotMatch(healthcheck.getTextContent(), /curl|wget/)
  })

  test('no secret is baked in: no ENV or ARG names one, and .dockerignore admits only the sources', () => {
    const names = instructions
      .filter((i) => i.getKeyword() === 'ENV' || i.getKeyword() === 'ARG')
      .flatMap((i) => args(i).map((a) => a.split('=')[0]!))
    for (const name of names) assert.doesNotMatch(name, /SECRET|TOKEN|PASSWORD|KEY/i)
    const ignore = readFileSync(join(REPO, '.dockerignore'), 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '' && !l.startsWith('#'))
    assert.deepEqual(ignore, ['*', '!package.json', '!package-lock.json', '!tsconfig.json', '!tsconfig.build.json', '!src/'])
  })
})

describe('Dockerfile: the runtime stage carried out, started and stopped', () => {
  let root: string
  let app: string
  let fx: OpsFixture
  let gw: CliProcess | undefined

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'mcp-gateway-image-'))
    // The build stage's output: dist/ compiled from src/ with tsconfig.build.json.
    const buildDist = join(root, 'build', 'dist')
    execFileSync(process.execPath, [join(REPO, 'node_modules/typescript/bin/tsc'), '-p', join(REPO, 'tsconfig.build.json'), '--outDir', buildDist], {
      stdio: 'pipe',
    })
    // The runtime stage, step by step. /app is `app`; the npm cache mount is this machine's npm
    // cache, used offline (tests reach nothing but 127.0.0.1; .ci/run's `npm ci` filled it).
    app = join(root, 'app')
    for (const instruction of runtimeStage) {
      const keyword = instruction.getKeyword()
      if (keyword === 'WORKDIR') mkdirSync(app, { recursive: true })
      if (keyword === 'COPY') {
        const [sources, target] = [args(instruction).filter((a) => !a.startsWith('--')).slice(0, -1), args(instruction).at(-1)!]
        if (flag(instruction, 'from') === 'build') cpSync(buildDist, join(app, target), { recursive: true })
        else for (const source of sources) cpSync(join(REPO, source), join(app, target, source))
      }
      if (keyword === 'RUN') {
        const command = args(instruction).filter((a) => !a.startsWith('--mount')).join(' ')
        const run = spawnSync('sh', ['-c', command], {
          cwd: app,
          encoding: 'utf8',
          env: { ...process.env, ...imageEnv(), npm_config_offline: 'true' },
        })
        assert.equal(run.status, 0, `RUN ${command}: ${run.stderr}`)
      }
    }
    fx = await createOpsFixture()
  })
  after(async () => {
    await gw?.kill()
    await fx?.close()
    await rm(root, { recursive: true, force: true })
  })

  test('only production dependencies are installed', () => {
    const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> }
    for (const name of Object.keys(pkg.devDependencies)) {
      assert.equal(spawnSync('test', ['-e', join(app, 'node_modules', name)]).status, 1, `${name} is not in the image`)
    }
    assert.equal(spawnSync('test', ['-e', join(app, 'src')]).status, 1, 'no sources in the image')
  })

  test('the entry point answers --help', () => {
    const [node, main] = json(inRuntime('ENTRYPOINT')[0]!)
    assert.equal(node, 'node')
    const run = spawnSync(process.execPath, [main!, '--help'], { cwd: app, encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } })
    assert.equal(run.status, 0, run.stderr)
    assert.match(run.stdout, /^Usage:/m)
  })

  test('it serves with production dependencies only, passes its HEALTHCHECK, and exits 0 on its STOPSIGNAL', async () => {
    const adminPort = await reservePort()
    const env = imageEnv()
    gw = spawnServe(
      ['--config', await fx.writeConfig({ audit: { file: 'off' } }), ...json(inRuntime('CMD')[0]!).slice(1)],
      {
        ...env,
        // 127.0.0.1 only in tests; the image listens on 0.0.0.0.
        MCP_LISTEN_HOST: '127.0.0.1',
        MCP_LISTEN_PORT: String(fx.port),
        MCP_ADMIN_HOST: '127.0.0.1',
        MCP_ADMIN_PORT: String(adminPort),
      },
      'image',
      { builtDir: app },
    )
    await gw.waitForLine((l) => l.msg === 'listening', 'listening')

    const healthcheck = healthcheckCommand()
    assert.equal(healthcheck[0], 'node')
    const probe = spawnSync(process.execPath, healthcheck.slice(1), {
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '', MCP_ADMIN_PORT: String(adminPort) },
      timeout: 10_000,
    })
    assert.equal(probe.status, 0, `HEALTHCHECK: ${probe.stderr}`)

    const response = await postStreaming(`http://127.0.0.1:${fx.port}/mcp`, LIST_TOOLS, { authorization: `Bearer ${await fx.token('mcp:tools')}` })
    assert.equal(await response.ended, 'complete')
    assert.equal(response.status, 200)
    assert.match(response.text(), /"tools"/)

    gw.signal(args(inRuntime('STOPSIGNAL')[0]!)[0] as NodeJS.Signals)
    assert.equal(await gw.exited, 0)

    const after = spawnSync(process.execPath, healthcheck.slice(1), {
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '', MCP_ADMIN_PORT: String(adminPort) },
      timeout: 10_000,
    })
    assert.equal(after.status, 1, 'the HEALTHCHECK fails once the gateway is gone')
  })
})
