import { request } from 'undici'

export interface ProbeRequest {
  method: 'GET' | 'POST' | 'DELETE'
  url: string
  headers?: Record<string, string>
  body?: string
  timeoutMs: number
}

export interface ProbeResponse {
  status: number
  /** Repeated headers stay arrays, so "exactly one WWW-Authenticate" can be checked. */
  headers: Record<string, string | string[] | undefined>
  body: string
  /** `text/event-stream`: the body holds the `data:` events read up to the first JSON-RPC response. */
  sse: boolean
}

/** Enough for any metadata document or first page of tools; more is not read. */
const MAX_BODY = 1024 * 1024

/**
 * One HTTP exchange, with no redirect following (a strict client follows none across origins and
 * the probe reports what the server said). An SSE body is read only up to its first JSON-RPC
 * response, since a server may keep the stream open after it.
 */
export async function send(req: ProbeRequest): Promise<ProbeResponse> {
  const signal = AbortSignal.timeout(req.timeoutMs)
  const response = await request(req.url, {
    method: req.method,
    headers: req.headers,
    body: req.body,
    signal,
  })
  const contentType = String(response.headers['content-type'] ?? '')
  const sse = contentType.startsWith('text/event-stream')
  let body = ''
  try {
    for await (const chunk of response.body) {
      body += (chunk as Buffer).toString('utf8')
      if (body.length > MAX_BODY) break
      if (sse && firstJsonRpcResponse(sseData(body)) !== undefined) break
    }
  } finally {
    response.body.destroy()
  }
  return { status: response.statusCode, headers: response.headers, body, sse }
}

/** The `data:` payloads of complete SSE events (WHATWG HTML §9.2.6), in order. */
export function sseData(text: string): string[] {
  const events: string[] = []
  for (const block of text.replace(/\r\n?/g, '\n').split('\n\n').slice(0, -1)) {
    const data = block
      .split('\n')
      .filter((line) => line.startsWith('data:'))
      .map((line) => line.slice(5).replace(/^ /, ''))
    if (data.length > 0) events.push(data.join('\n'))
  }
  return events
}

/** The first JSON-RPC response (`result` or `error`) among messages, or `undefined`. */
export function firstJsonRpcResponse(messages: readonly string[]): Record<string, unknown> | undefined {
  for (const text of messages) {
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch {
      continue
    }
    for (const item of Array.isArray(value) ? value : [value]) {
      if (typeof item === 'object' && item !== null && ('result' in item || 'error' in item)) return item as Record<string, unknown>
    }
  }
  return undefined
}

/** The JSON-RPC response in a body, JSON or SSE. */
export function jsonRpcResponseOf(response: ProbeResponse): Record<string, unknown> | undefined {
  return firstJsonRpcResponse(response.sse ? sseData(response.body) : [response.body])
}

/** A header's values as a list (absent: none). */
export function headerValues(response: ProbeResponse, name: string): string[] {
  const value = response.headers[name.toLowerCase()]
  if (value === undefined) return []
  return Array.isArray(value) ? value : [value]
}

export function describeError(error: unknown): string {
  const e = error as Error & { code?: string; cause?: { code?: string } }
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return 'timed out'
  return e.code ?? e.cause?.code ?? e.message
}
