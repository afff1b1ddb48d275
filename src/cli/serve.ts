import cluster from 'node:cluster'
import { formatCheckLines } from '../check/format.js'
import { checkKeysAtStart, startUpExitCode } from '../check/start-up-checks.js'
import { loadConfig } from '../config/load.js'
import type { Config } from '../config/normalize.js'
import { ConfigError } from '../errors.js'
import { createAuditTrail, mcpCallPaths, type AuditTrail } from '../observability/audit.js'
import { events } from '../observability/events.js'
import { createLineWriter, type LineWriter } from '../observability/line-writer.js'
import { attachLogger, createLogger, logNotices } from '../observability/log.js'
import {
  clusterMetricsSource,
  configuredTools,
  createMetrics,
  metricsHandler,
  shareWithPrimary,
} from '../observability/metrics.js'
import { createRevocationRoutes, revocationRouteOptions } from '../revocation/admin-routes.js'
import { createRevocations, type Revocations } from '../revocation/revocations.js'
import { startAdminServer, type AdminServer } from '../server/admin.js'
import { assertionJwks } from '../identity/jwks.js'
import { startGateway, type RunningGateway } from '../server/http.js'
import { answerReadiness, restartOnlyChanges, serialize, startWorkerPool, waitForStopSignal } from '../server/lifecycle.js'

/**
 * `serve`: validate everything, print every problem and exit non-zero before listening (2 for a
 * setting to correct, 1 for an authorization server that cannot be reached); otherwise listen and
 * log. SIGHUP reloads the configuration file and keys, SIGTERM/SIGINT drain and stop.
 * With `workers` > 1 this process becomes the cluster primary and each worker runs the gateway.
 */
export async function serve(argv: readonly string[]): Promise<number> {
  let config
  try {
    config = await loadConfig({ env: process.env, argv })
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    console.error(`mcp-resource-gateway: ${error.message}`)
    return 2
  }
  // Once, in the process the operator started (workers are forked only after it passed).
  if (cluster.isPrimary && !config.startWithoutKeys) {
    const failed = await checkKeysBeforeListening(config)
    if (failed !== 0) return failed
  }
  const code = cluster.isPrimary && config.workers > 1 ? await servePrimary(config, argv) : await serveGateway(config, argv)
  // A leftover handle (a keep-alive socket to the AS, a worker's IPC channel) must not keep a
  // stopped gateway alive; the timer itself does not hold the process.
  setTimeout(() => process.exit(code), 1000).unref()
  return code
}

/**
 * The keys of every authorization server load, or the start fails with what `check` reports:
 * exit 1 when one could not be reached, 2 when a setting must be corrected (an issuer that
 * differs from the published one, a JWKS without a usable key).
 */
async function checkKeysBeforeListening(config: Config): Promise<number> {
  const failures = await checkKeysAtStart(config)
  const code = startUpExitCode(failures)
  if (code === 0) return 0
  const hint =
    code === 1
      ? '\nTo listen before the authorization server is up, set MCP_START_WITHOUT_KEYS=on (file key startWithoutKeys): ' +
        '/readyz then fails and tokens get 503 until the keys load.'
      : ''
  console.error(
    `mcp-resource-gateway: cannot start: the keys that verify tokens do not load:\n${formatCheckLines(failures).join('\n')}${hint}`,
  )
  return code
}

/** One gateway process: alone, or a cluster worker (no admin listener; the primary has it). */
async function serveGateway(config: Config, argv: readonly string[]): Promise<number> {
  const worker = cluster.isWorker ? cluster.worker?.id : undefined
  const stdout = stdoutStream(worker !== undefined)
  const logger = createLogger(config.log.level, stdout, worker === undefined ? undefined : { worker })
  const detachLogger = attachLogger(logger)
  if (worker === undefined) logNotices(logger, config)

  let audit: AuditTrail
  try {
    audit = startAudit(config, stdout)
  } catch (error) {
    // The file is opened at start: a path that cannot be written stops the gateway before it listens.
    console.error(`mcp-resource-gateway: cannot open the audit trail (MCP_AUDIT_LOG): ${(error as Error).message}`)
    detachLogger()
    stdout.flushSync()
    return 1
  }
  const metrics = createMetrics({
    calls: mcpCallPaths(config),
    knownTools: configuredTools(config.scopes),
    toolLabels: config.metrics.toolLabels,
  })
  if (worker !== undefined) shareWithPrimary(metrics)
  const extraRoutes = config.metrics.onMainPort ? new Map([['/metrics', metricsHandler(metrics)]]) : undefined
  const release = async () => {
    audit.close()
    metrics.close()
    detachLogger()
    stdout.flushSync()
  }

  let gateway: RunningGateway
  try {
    gateway = await startGateway(config, extraRoutes === undefined ? {} : { parts: { extraRoutes } })
  } catch (error) {
    console.error(`mcp-resource-gateway: cannot listen: ${listenHint(error, config.listen, 'MCP_LISTEN_PORT')}`)
    await release()
    return 1
  }
  let draining = false
  const ready = async () => !draining && (await gateway.ready())
  let admin: AdminServer | undefined
  if (worker === undefined && config.admin.port !== undefined) {
    try {
      admin = await startAdminServer({
        host: config.admin.host,
        port: config.admin.port,
        metrics,
        ready,
        jwks: assertionJwks(config.upstreamIdentity),
        routes: revocationRoutes(config, gateway.revocations),
      })
    } catch (error) {
      console.error(`mcp-resource-gateway: cannot listen: ${listenHint(error, config.admin, 'MCP_ADMIN_PORT')}`)
      await gateway.close({ timeoutMs: 0 })
      await release()
      return 1
    }
  }
  if (worker !== undefined) answerReadiness(ready)
  logger.info(
    { url: gateway.url, admin: admin?.url, resource: config.resource.canonicalUri, backend: config.backend.origin },
    'listening',
  )

  let running = config
  const reload = serialize(async () => {
    // A reload during the drain would build parts that nothing closes any more.
    if (draining) return
    const next = await readConfigForReload(argv)
    if (next === undefined || draining) return
    warnRestartOnly(logger, running, next)
    try {
      await gateway.reload(next)
    } catch (error) {
      events.reload.publish({ ok: false, problems: [(error as Error).message] })
      return
    }
    logger.level = next.log.level
    // A new trail reopens the file: after logrotate moved it, or at a new path. The old one
    // writes out what it holds first, and so does stdout: the lines before the reload go out.
    // A path that cannot be opened keeps the old trail (an error line says so), not a crash.
    stdout.flushSync()
    try {
      const reopened = startAudit(next, stdout)
      audit.close()
      audit = reopened
    } catch (error) {
      const message = `cannot open the audit trail (MCP_AUDIT_LOG): ${(error as Error).message}; records go on to the previous one`
      events.notice.publish({ level: 'error', message })
    }
    metrics.update({ calls: mcpCallPaths(next), knownTools: configuredTools(next.scopes) })
    running = next
    events.reload.publish({ ok: true })
  })
  const signals = waitForStopSignal({
    reload,
    // A worker gets its stop signal from the primary, and from the terminal on Ctrl-C: both are one stop.
    force: () => {
      if (worker === undefined) gateway.server.closeAllConnections()
    },
  })
  const signal = await signals.stopped
  draining = true
  // close() stops accepting before its first await, so "draining" is only said once that is true.
  const closed = gateway.close({ timeoutMs: running.shutdownTimeout })
  logger.info({ signal, timeoutMs: running.shutdownTimeout }, 'draining')
  await closed
  await admin?.close()
  logger.info('stopped')
  signals.dispose()
  await release()
  return 0
}

/** The cluster primary: forks the workers, serves the admin listener with their summed metrics. */
async function servePrimary(config: Config, argv: readonly string[]): Promise<number> {
  const stdout = stdoutStream(true)
  const logger = createLogger(config.log.level, stdout, { worker: 'primary' })
  const detachLogger = attachLogger(logger)
  logNotices(logger, config)
  const pool = startWorkerPool({
    count: config.workers,
    stopTimeoutMs: config.shutdownTimeout + 5000,
    log: (level, message, fields) => logger[level](fields ?? {}, message),
  })
  const stopAll = async (code: number) => {
    await pool.stop('SIGTERM')
    detachLogger()
    stdout.flushSync()
    return code
  }
  let address
  try {
    address = await pool.listening
  } catch (error) {
    logger.error((error as Error).message)
    return stopAll(1)
  }
  let draining = false
  let admin: AdminServer | undefined
  // The workers learn the primary's revocations through Redis; without it they could not.
  let revocations: Revocations | undefined
  if (config.admin.token !== undefined && config.redis === undefined) {
    logger.warn('the revocation routes are off: with several workers they need MCP_REDIS_URL to reach every worker')
  } else if (config.admin.token !== undefined) {
    revocations = createRevocations({ redis: config.redis })
  }
  if (config.admin.port !== undefined) {
    try {
      admin = await startAdminServer({
        host: config.admin.host,
        port: config.admin.port,
        metrics: clusterMetricsSource(),
        ready: async () => !draining && (await pool.ready()),
        jwks: assertionJwks(config.upstreamIdentity),
        routes: revocations === undefined ? undefined : revocationRoutes(config, revocations),
      })
    } catch (error) {
      console.error(`mcp-resource-gateway: cannot listen: ${listenHint(error, config.admin, 'MCP_ADMIN_PORT')}`)
      return stopAll(1)
    }
  }
  logger.info({ workers: config.workers, port: address.port, admin: admin?.url }, 'listening')

  let running = config
  const reload = serialize(async () => {
    // Checked once here so an invalid file is reported once, not by every worker.
    if (draining) return
    const next = await readConfigForReload(argv)
    if (next === undefined || draining) return
    warnRestartOnly(logger, running, next)
    logger.level = next.log.level
    running = next
    pool.signal('SIGHUP')
  })
  const signals = waitForStopSignal({ reload, force: () => pool.signal('SIGKILL') })
  const stop = await Promise.race([signals.stopped, pool.failed.then((why) => new Error(why))])
  draining = true
  if (stop instanceof Error) logger.fatal(stop.message)
  else logger.info({ signal: stop, timeoutMs: running.shutdownTimeout }, 'draining')
  await admin?.close()
  await revocations?.close()
  const code = await stopAll(stop instanceof Error ? 1 : 0)
  signals.dispose()
  return code
}

/** The new configuration, or undefined after publishing why it was refused (the old one stays). */
async function readConfigForReload(argv: readonly string[]): Promise<Config | undefined> {
  try {
    return await loadConfig({ env: process.env, argv })
  } catch (error) {
    const problems = error instanceof ConfigError ? error.problems : [(error as Error).message]
    events.reload.publish({ ok: false, problems })
    return undefined
  }
}

function warnRestartOnly(logger: { warn(obj: object, msg: string): void }, running: Config, next: Config): void {
  const kept = restartOnlyChanges(running, next)
  if (kept.length > 0) logger.warn({ settings: kept }, 'these settings change only on restart; their running values are kept')
}

function revocationRoutes(config: Config, revocations: Revocations) {
  const options = revocationRouteOptions(config, revocations)
  return options === undefined ? undefined : createRevocationRoutes(options)
}

function startAudit(config: Config, stdout: LineWriter): AuditTrail {
  return createAuditTrail({ ...mcpCallPaths(config), file: config.audit.file, sync: config.audit.sync, stdout })
}

function listenHint(error: unknown, listen: { host: string; port?: number | undefined }, variable: string): string {
  const e = error as NodeJS.ErrnoException
  if (e.code === 'EADDRINUSE') return `port ${listen.port} on ${listen.host} is already in use (${variable})`
  if (e.code === 'EACCES') {
    return `no permission to listen on port ${listen.port}; use a port above 1023 (${variable}) or grant CAP_NET_BIND_SERVICE`
  }
  if (e.code === 'EADDRNOTAVAIL') return `${listen.host} is not an address of this machine`
  return e.message
}

/**
 * Buffered stdout, one writer for the logger and the audit trail: the lines of many requests go
 * out in one write. Processes of a cluster share one pipe: a write of at most PIPE_BUF (4096)
 * bytes is atomic (POSIX write(2)), and the writer cuts only between lines, so lines of two
 * workers never interleave.
 */
function stdoutStream(shared: boolean): LineWriter {
  return createLineWriter({ fd: 1, ...(shared ? { maxWrite: 4096 } : {}) })
}
