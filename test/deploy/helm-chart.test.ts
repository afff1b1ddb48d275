import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseAllDocuments } from 'yaml'
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap'
import { Service } from 'kubernetes-models/v1/Service'
import { Deployment, type IDeployment } from 'kubernetes-models/apps/v1/Deployment'
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget'
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler'
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor'
import { loadConfig } from '../../src/config/load.js'
import { helm } from '../support/helm.js'

/**
 * The Helm chart under deploy/helm, rendered by the real `helm` (test/support/helm.ts) with its
 * default values and with values-full.example.yaml; every rendered object is validated against
 * the Kubernetes JSON schemas (kubernetes-models; prometheus-operator's for the ServiceMonitor),
 * and the rendered gateway settings against the gateway's own configuration loader.
 */

const CHART = fileURLToPath(new URL('../../deploy/helm/mcp-resource-gateway', import.meta.url))
const FULL_VALUES = join(CHART, 'values-full.example.yaml')
const SECRET_DIR = '/run/secrets/mcp-gateway/'

type K8sObject = { apiVersion: string; kind: string; metadata: { name: string }; [key: string]: unknown }

/** The schema of each kind the chart renders; a kind missing here fails the test. */
const MODEL_CLASSES = [ConfigMap, Service, Deployment, PodDisruptionBudget, HorizontalPodAutoscaler, ServiceMonitor]

function validateObject(object: K8sObject): void {
  const model = MODEL_CLASSES.find((m) => m.apiVersion === object.apiVersion && m.kind === object.kind)
  assert.ok(model !== undefined, `no Kubernetes schema for ${object.apiVersion} ${object.kind}`)
  // The constructors accept any object of their kind; validate() checks it against the schema.
  const instance = new (model as unknown as new (data: unknown) => { validate(): void })(object)
  instance.validate()
}

function render(args: readonly string[]): K8sObject[] {
  const text = helm(['template', 'gw', CHART, '--namespace', 'mcp', ...args])
  return parseAllDocuments(text)
    .map((doc) => {
      assert.deepEqual(doc.errors, [], 'rendered YAML parses')
      return doc.toJS() as K8sObject | null
    })
    .filter((o): o is K8sObject => o !== null)
}

function only<T = K8sObject>(objects: K8sObject[], kind: string, name?: string): T {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name))
  assert.equal(found.length, 1, `exactly one ${kind}${name === undefined ? '' : ` ${name}`}`)
  return found[0] as T
}

/** Runs the gateway's configuration loader on what the pod would see: the env ConfigMap, the
 * gateway.yaml ConfigMap and the secret files, mounted into a temporary folder. */
async function loadRenderedConfig(objects: K8sObject[], dir: string) {
  const env = { ...(only<{ data: Record<string, string> }>(objects, 'ConfigMap', 'gw-mcp-resource-gateway').data) }
  for (const [name, value] of Object.entries(env)) {
    if (value.startsWith(SECRET_DIR)) {
      const file = join(dir, value.slice(SECRET_DIR.length))
      await writeFile(file, 'not-a-real-secret-value\n', { mode: 0o600 })
      env[name] = file
    }
  }
  if (env.MCP_CONFIG !== undefined) {
    const files = only<{ data: Record<string, string> }>(objects, 'ConfigMap', 'gw-mcp-resource-gateway-file').data
    env.MCP_CONFIG = join(dir, 'gateway.yaml')
    await writeFile(env.MCP_CONFIG, files['gateway.yaml'] ?? '')
  }
  return loadConfig({ env, argv: [] })
}

function assertDeploymentBasics(objects: K8sObject[]): IDeployment {
  const deployment = only<IDeployment>(objects, 'Deployment')
  const env = only<{ data: Record<string, string> }>(objects, 'ConfigMap', 'gw-mcp-resource-gateway').data
  const pod = deployment.spec!.template.spec!
  const gateway = pod.containers.find((c) => c.name === 'gateway')!
  const adminPort = gateway.ports!.find((p) => p.name === 'admin')!
  assert.equal(String(adminPort.containerPort), env.MCP_ADMIN_PORT, 'the probes reach the admin listener')
  assert.equal(gateway.ports!.find((p) => p.name === 'http')!.containerPort, Number(env.MCP_LISTEN_PORT))
  assert.deepEqual(gateway.readinessProbe!.httpGet, { path: '/readyz', port: 'admin' })
  assert.deepEqual(gateway.livenessProbe!.httpGet, { path: '/healthz', port: 'admin' })
  assert.deepEqual(gateway.envFrom, [{ configMapRef: { name: 'gw-mcp-resource-gateway' } }])
  assert.ok(gateway.resources?.requests?.cpu !== undefined && gateway.resources?.limits?.memory !== undefined)

  assert.equal(pod.securityContext!.runAsNonRoot, true)
  assert.notEqual(pod.securityContext!.runAsUser, 0)
  for (const container of [...pod.containers, ...(pod.initContainers ?? [])]) {
    assert.equal(container.securityContext!.readOnlyRootFilesystem, true, container.name)
    assert.equal(container.securityContext!.allowPrivilegeEscalation, false, container.name)
    assert.deepEqual(container.securityContext!.capabilities!.drop, ['ALL'], container.name)
  }

  const drainSeconds = Number(/^(\d+)s$/.exec(env.MCP_SHUTDOWN_TIMEOUT ?? '')?.[1])
  const preStop = gateway.lifecycle!.preStop!.exec!.command!
  assert.equal(preStop[0], 'sleep')
  assert.ok(
    pod.terminationGracePeriodSeconds! > drainSeconds + Number(preStop[1]),
    `terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds} > drain ${drainSeconds} s + preStop ${preStop[1]} s`,
  )
  assert.match(String(deployment.spec!.template.metadata!.annotations!['checksum/config']), /^[0-9a-f]{64}$/)
  return deployment
}

describe('Helm chart: default values', () => {
  let objects: K8sObject[]
  let dir: string
  before(async () => {
    objects = render([])
    dir = await mkdtemp(join(tmpdir(), 'mcp-gateway-chart-'))
  })
  after(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  test('helm lint --strict passes', () => {
    helm(['lint', '--strict', CHART])
  })

  test('renders a ConfigMap, Deployment, Service and PodDisruptionBudget, each valid against its Kubernetes schema', () => {
    assert.deepEqual(objects.map((o) => o.kind).sort(), ['ConfigMap', 'Deployment', 'PodDisruptionBudget', 'Service'])
    for (const object of objects) validateObject(object)
  })

  test('the Deployment probes the admin listener, runs non-root on a read-only root and outlives its drain', () => {
    const deployment = assertDeploymentBasics(objects)
    assert.equal(deployment.spec!.replicas, 2)
    const pod = deployment.spec!.template.spec!
    assert.equal(pod.initContainers, undefined, 'no secret files, no init container')
    assert.equal(pod.volumes!.some((v) => v.name === 'secrets'), false)
  })

  test('the gateway accepts the rendered settings', async () => {
    const config = await loadRenderedConfig(objects, dir)
    assert.equal(config.listen.port, 8080)
    assert.equal(config.admin.port, 9090)
  })
})

describe('Helm chart: values-full.example.yaml', () => {
  let objects: K8sObject[]
  let dir: string
  before(async () => {
    objects = render(['-f', FULL_VALUES])
    dir = await mkdtemp(join(tmpdir(), 'mcp-gateway-chart-'))
  })
  after(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  test('helm lint --strict passes', () => {
    helm(['lint', '--strict', CHART, '-f', FULL_VALUES])
  })

  test('renders every object, each valid against its Kubernetes schema', () => {
    assert.deepEqual(objects.map((o) => o.kind).sort(), [
      'ConfigMap',
      'ConfigMap',
      'Deployment',
      'HorizontalPodAutoscaler',
      'PodDisruptionBudget',
      'Service',
      'ServiceMonitor',
    ])
    for (const object of objects) validateObject(object)
  })

  test('the HorizontalPodAutoscaler owns the replica count and the ServiceMonitor scrapes the admin port', () => {
    const deployment = assertDeploymentBasics(objects)
    assert.equal(deployment.spec!.replicas, undefined)
    const hpa = only<{ spec: { scaleTargetRef: { kind: string; name: string } } }>(objects, 'HorizontalPodAutoscaler')
    assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: deployment.metadata!.name })
    const monitor = only<{ spec: { endpoints: { port: string; path: string }[] } }>(objects, 'ServiceMonitor')
    assert.deepEqual(
      monitor.spec.endpoints.map((e) => [e.port, e.path]),
      [['admin', '/metrics']],
    )
    const service = only<{ spec: { ports: { name: string; targetPort: string }[] } }>(objects, 'Service')
    assert.ok(service.spec.ports.some((p) => p.name === 'admin' && p.targetPort === 'admin'))
  })

  test('each secret is mounted as a file the gateway names: client secret, admin token, Redis password', () => {
    const env = only<{ data: Record<string, string> }>(objects, 'ConfigMap', 'gw-mcp-resource-gateway').data
    assert.equal(env.MCP_CLIENT_SECRET_FILE, `${SECRET_DIR}client.secret`)
    assert.equal(env.MCP_ADMIN_TOKEN_FILE, `${SECRET_DIR}admin.token`)
    assert.equal(env.MCP_REDIS_PASSWORD_FILE, `${SECRET_DIR}redis.password`)
    assert.equal(env.MCP_REDIS_URL, 'redis://redis.mcp.svc.cluster.local:6379')
    const deployment = only<IDeployment>(objects, 'Deployment')
    const pod = deployment.spec!.template.spec!
    const projected = pod.volumes!.find((v) => v.name === 'secrets-in')!.projected!.sources!
    assert.deepEqual(
      projected.map((s) => [s.secret!.name, s.secret!.items![0]!.path]),
      [
        ['mcp-gateway-introspection', 'client.secret'],
        ['mcp-gateway-admin', 'admin.token'],
        ['mcp-gateway-redis', 'redis.password'],
      ],
    )
    const mount = pod.containers[0]!.volumeMounts!.find((m) => m.name === 'secrets')!
    assert.equal(`${mount.mountPath}/`, SECRET_DIR)
    assert.equal(mount.readOnly, true)
    assert.match(pod.initContainers![0]!.command!.join(' '), /install -m 0600/)
    // No secret value in any rendered object: only Secret names and keys.
    assert.equal(objects.some((o) => o.kind === 'Secret'), false)
  })

  test('the gateway accepts the rendered settings, gateway.yaml and secret files included', async () => {
    const config = await loadRenderedConfig(objects, dir)
    assert.equal(config.shutdownTimeout, 60_000)
  })
})

test('the schema validation refuses a broken object (a port that is not a number)', () => {
  const objects = render(['--set-string', 'admin.port=nine'])
  const deployment = only(objects, 'Deployment')
  assert.throws(() => validateObject(deployment), /containerPort/)
})
