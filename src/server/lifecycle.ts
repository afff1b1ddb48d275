import cluster, { type Worker } from 'node:cluster'
import type { Server } from 'node:http'
import type { Config } from '../config/normalize.js'
import { events } from '../observability/events.js'

/**
 * Process lifecycle: drain on SIGTERM, reload on SIGHUP, and the cluster primary that runs
 * `workers` processes sharing the port and forwards those signals to them.
 */

export interface DrainResult {
  /** Connections still open at the deadline, cut. */
  forced: boolean
}

/**
 * Stops accepting, lets requests in flight and open SSE streams finish up to `timeoutMs`, then
 * cuts what is left. Responses finished meanwhile carry `Connection: close` (RFC 9112 §9.6) and
 * idle keep-alive connections are closed as they appear, so clients reconnect elsewhere.
 */
export async function drainServer(server: Server, timeoutMs: number): Promise<DrainResult> {
  const closeAfterResponse = (_req: unknown, res: { setHeader(name: string, value: string): unknown; headersSent: boolean }) => {
    if (!res.headersSent) res.setHeader('connection', 'close')
  }
  server.prependListener('request', closeAfterResponse)
  const closed = new Promise<void>((resolve) => server.close(() => resolve()))
  server.closeIdleConnections()
  const sweep = setInterval(() => server.closeIdleConnections(), 100)
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<true>((resolve) => {
    timer = setTimeout(() => resolve(true), timeoutMs)
  })
  const forced = await Promise.race([closed.then(() => false as const), deadline])
  clearInterval(sweep)
  clearTimeout(timer)
  if (forced) {
    events.notice.publish({ level: 'warn', message: `shutdown deadline of ${timeoutMs} ms reached: cutting the connections still open` })
    server.closeAllConnections()
    await closed
  }
  server.off('request', closeAfterResponse)
  return { forced }
}

/**
 * Runs `task` one at a time: a call while one runs schedules exactly one more run after it (two
 * SIGHUPs during a reload read the file once more, not twice).
 */
export function serialize(task: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined
  let again = false
  const run = async (): Promise<void> => {
    try {
      await task()
    } finally {
      running = undefined
    }
    if (again) {
      again = false
      running = run()
      await running
    }
  }
  return () => {
    if (running !== undefined) {
      again = true
      return running
    }
    running = run()
    return running
  }
}

export interface SignalOptions {
  /** SIGHUP. */
  reload(): Promise<void> | void
  /** A second SIGTERM/SIGINT while draining: cut everything now. */
  force(): void
}

/**
 * Installs SIGHUP (reload) and SIGTERM/SIGINT (stop) handlers; resolves with the first stop
 * signal. Later stop signals call `force`.
 */
export function waitForStopSignal(options: SignalOptions): { stopped: Promise<NodeJS.Signals>; dispose(): void } {
  let stopping = false
  let resolveStop: (signal: NodeJS.Signals) => void = () => {}
  const stopped = new Promise<NodeJS.Signals>((resolve) => {
    resolveStop = resolve
  })
  const onHup = () => void options.reload()
  const onStop = (signal: NodeJS.Signals) => {
    if (stopping) return options.force()
    stopping = true
    resolveStop(signal)
  }
  process.on('SIGHUP', onHup)
  process.on('SIGTERM', onStop)
  process.on('SIGINT', onStop)
  return {
    stopped,
    dispose() {
      process.off('SIGHUP', onHup)
      process.off('SIGTERM', onStop)
      process.off('SIGINT', onStop)
    },
  }
}

/**
 * Settings a reload cannot apply to a running process (the sockets are bound, the workers
 * forked); they are reported and keep their running values until a restart.
 */
export function restartOnlyChanges(running: Config, next: Config): string[] {
  const changed: string[] = []
  const compare = (key: string, a: unknown, b: unknown) => {
    if (a !== b) changed.push(key)
  }
  compare('listen.host', running.listen.host, next.listen.host)
  compare('listen.port', running.listen.port, next.listen.port)
  compare('tls.enabled', running.tls.enabled, next.tls.enabled)
  compare('workers', running.workers, next.workers)
  compare('admin.host', running.admin.host, next.admin.host)
  compare('admin.port', running.admin.port, next.admin.port)
  compare('metrics.onMainPort', running.metrics.onMainPort, next.metrics.onMainPort)
  compare('limits.requestTimeout', running.limits.requestTimeout, next.limits.requestTimeout)
  compare('limits.maxConnections', running.limits.maxConnections, next.limits.maxConnections)
  // Revocations and the lockout are process state, built at start with their Redis connection.
  compare('admin.tokenFile', running.admin.tokenFile, next.admin.tokenFile)
  compare('authFailures', JSON.stringify(running.authFailures), JSON.stringify(next.authFailures))
  compare('trustedProxies', JSON.stringify(running.trustedProxies), JSON.stringify(next.trustedProxies))
  compare('redis.url (revocations, lockout)', running.redis?.url, next.redis?.url)
  return changed
}

const READY_QUERY = 'mcp-gateway:ready?'
const READY_ANSWER = 'mcp-gateway:ready'

/** In a worker: answer the primary's readiness questions (its admin `/readyz`). */
export function answerReadiness(ready: () => Promise<boolean>): void {
  process.on('message', (message: { type?: string; id?: number }) => {
    if (message?.type !== READY_QUERY) return
    ready().then(
      (value) => process.send?.({ type: READY_ANSWER, id: message.id, ready: value }),
      () => process.send?.({ type: READY_ANSWER, id: message.id, ready: false }),
    )
  })
}

export interface WorkerPoolOptions {
  count: number
  /** Longest wait for workers to exit after SIGTERM before they are killed. */
  stopTimeoutMs: number
  log(level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>): void
}

export interface WorkerPool {
  /** Resolves with the address once every worker listens; rejects if one exits first. */
  listening: Promise<{ address: string; port: number }>
  /** Sends `signal` to every live worker. */
  signal(signal: NodeJS.Signals): void
  /** Every worker ready (asked over IPC, 2 s bound). */
  ready(): Promise<boolean>
  /** SIGTERM to all, wait until they exit (SIGKILL after `stopTimeoutMs`). */
  stop(signal: NodeJS.Signals): Promise<void>
  /** Resolves if the pool gives up (workers keep crashing). */
  failed: Promise<string>
}

/** Crash loop guard: this many unexpected exits within the window stop the gateway. */
const CRASH_LIMIT = 5
const CRASH_WINDOW_MS = 60_000
const RESPAWN_DELAY_MS = 1000

/**
 * The cluster primary's side: forks `count` workers (same argv and execArgv), which share the
 * listening port (node:cluster round-robin), replaces workers that die, and forwards signals.
 */
export function startWorkerPool(options: WorkerPoolOptions): WorkerPool {
  let stopping = false
  const crashes: number[] = []
  let listeningCount = 0
  let resolveListening: (address: { address: string; port: number }) => void = () => {}
  let rejectListening: (error: Error) => void = () => {}
  const listening = new Promise<{ address: string; port: number }>((resolve, reject) => {
    resolveListening = resolve
    rejectListening = reject
  })
  let resolveFailed: (why: string) => void = () => {}
  const failed = new Promise<string>((resolve) => {
    resolveFailed = resolve
  })
  let started = false

  const fork = (): Worker => {
    const worker = cluster.fork()
    worker.once('listening', (address) => {
      if (started) return
      listeningCount++
      if (listeningCount === options.count) {
        started = true
        resolveListening({ address: address.address ?? '', port: address.port })
      }
    })
    worker.once('exit', (code, signal) => {
      if (stopping) return
      if (!started) {
        rejectListening(new Error(`worker ${worker.id} exited with ${signal ?? code} before listening`))
        return
      }
      const now = Date.now()
      crashes.push(now)
      while (crashes.length > 0 && (crashes[0] as number) < now - CRASH_WINDOW_MS) crashes.shift()
      options.log('error', 'worker exited; starting a new one', { worker: worker.id, code, signal })
      if (crashes.length >= CRASH_LIMIT) {
        resolveFailed(`${CRASH_LIMIT} workers exited within ${CRASH_WINDOW_MS / 1000}s`)
        return
      }
      setTimeout(() => {
        if (!stopping) fork()
      }, RESPAWN_DELAY_MS).unref()
    })
    return worker
  }
  for (let i = 0; i < options.count; i++) fork()

  const live = () => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && !w.isDead())
  let queryId = 0

  return {
    listening,
    failed,
    signal(signal) {
      for (const worker of live()) worker.process.kill(signal)
    },
    async ready() {
      const workers = live()
      if (workers.length < options.count) return false
      const id = ++queryId
      const answers = workers.map(
        (worker) =>
          new Promise<boolean>((resolve) => {
            const timer = setTimeout(() => done(false), 2000)
            const onMessage = (message: { type?: string; id?: number; ready?: boolean }) => {
              if (message?.type === READY_ANSWER && message.id === id) done(message.ready === true)
            }
            const done = (value: boolean) => {
              clearTimeout(timer)
              worker.off('message', onMessage)
              resolve(value)
            }
            worker.on('message', onMessage)
            worker.send({ type: READY_QUERY, id })
          }),
      )
      return (await Promise.all(answers)).every(Boolean)
    },
    async stop(signal) {
      stopping = true
      const workers = live()
      const exits = workers.map((w) => new Promise<void>((resolve) => (w.isDead() ? resolve() : w.once('exit', () => resolve()))))
      for (const worker of workers) worker.process.kill(signal)
      const timer = setTimeout(() => {
        for (const worker of live()) {
          options.log('warn', 'worker did not stop in time; killing it', { worker: worker.id })
          worker.process.kill('SIGKILL')
        }
      }, options.stopTimeoutMs)
      await Promise.all(exits)
      clearTimeout(timer)
    },
  }
}
