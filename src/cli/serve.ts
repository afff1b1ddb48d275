import { loadConfig } from '../config/load.js'
import { ConfigError } from '../errors.js'
import { attachLogger, createLogger } from '../observability/log.js'
import { startGateway } from '../server/http.js'

/**
 * `serve`: validate everything, print every problem and exit non-zero before listening; otherwise
 * listen, log, and close gracefully on SIGTERM/SIGINT.
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
  const logger = createLogger(config.log.level)
  attachLogger(logger)
  for (const notice of config.notices) logger.warn(notice)

  let gateway
  try {
    gateway = await startGateway(config)
  } catch (error) {
    const e = error as NodeJS.ErrnoException
    const hint =
      e.code === 'EADDRINUSE'
        ? `port ${config.listen.port} on ${config.listen.host} is already in use (MCP_LISTEN_PORT)`
        : e.code === 'EACCES'
          ? `no permission to listen on port ${config.listen.port}; use a port above 1023 (MCP_LISTEN_PORT) or grant CAP_NET_BIND_SERVICE`
          : e.message
    console.error(`mcp-resource-gateway: cannot listen: ${hint}`)
    return 1
  }
  logger.info(
    { url: gateway.url, resource: config.resource.canonicalUri, backend: config.backend.origin },
    'listening',
  )

  await new Promise<void>((resolve) => {
    const stop = () => resolve()
    process.once('SIGTERM', stop)
    process.once('SIGINT', stop)
  })
  logger.info('shutting down')
  await gateway.close()
  logger.flush()
  return 0
}
