import { after, before, mock, test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import { ServerResponse } from 'node:http'
import { join } from 'node:path'
import { createAuditTrail, type AuditTrail } from '../../src/observability/audit.js'
import { makeTempDir, postMcp, startGatewayStack, type GatewayStack } from '../support/gateway.js'

// MCP_AUDIT_SYNC=write (docs/deployment.md): the record of a call the backend answered is written
// before the answer's last bytes are handed to the client's socket, in the gateway itself (not
// only "soon enough" for a client to notice): the order of the two writes is what is checked.

let stack: GatewayStack
let temp: Awaited<ReturnType<typeof makeTempDir>>
let trail: AuditTrail
let auditFd: number

before(async () => {
  stack = await startGatewayStack({ backend: { mode: 'stateless' } })
  temp = await makeTempDir('audit-order-')
  const opens = mock.method(fs, 'openSync')
  trail = createAuditTrail({ file: join(temp.dir, 'audit.jsonl'), sync: 'write', resourcePath: '/mcp', excluded: [] })
  auditFd = opens.mock.calls[0]?.result as number
  opens.mock.restore()
})
after(async () => {
  trail?.close()
  await stack?.close()
  await temp?.remove()
})

test('the audit record is written before the forwarded answer ends, for calls answered together too', async () => {
  const gatewayPort = Number(new URL(stack.gateway.url).port)
  // Records in the file when each of the gateway's answers ended.
  let written = 0
  const atEnd: number[] = []
  const writeSync = fs.writeSync
  const end = ServerResponse.prototype.end
  const writes = mock.method(fs, 'writeSync', function (this: unknown, ...args: Parameters<typeof fs.writeSync>) {
    const count = (writeSync as (...a: unknown[]) => number).apply(this, args)
    if (args[0] === auditFd) {
      const [, buffer, offset = 0] = args as unknown as [number, Buffer, number]
      for (let i = offset; i < offset + count; i++) if (buffer[i] === 0x0a) written++
    }
    return count
  })
  const ends = mock.method(ServerResponse.prototype, 'end', function (this: ServerResponse, ...args: unknown[]) {
    // Only the gateway's answers: the SDK backend runs in this process too.
    if (this.socket?.localPort === gatewayPort) atEnd.push(written)
    return (end as (...a: unknown[]) => ServerResponse).apply(this, args)
  })
  try {
    const token = await stack.token('mcp:read')
    const answers = await Promise.all(Array.from({ length: 5 }, () => postMcp(stack.gateway, `Bearer ${token}`)))
    assert.deepEqual(
      answers.map((a) => a.status),
      [200, 200, 200, 200, 200],
    )
  } finally {
    writes.mock.restore()
    ends.mock.restore()
  }
  // The n-th answer to end finds at least n records written (one write may carry several).
  assert.equal(atEnd.length, 5)
  atEnd.forEach((records, i) => assert.ok(records >= i + 1, `answer ${i + 1} ended with ${records} records written: ${atEnd.join(', ')}`))
  const lines = (await fs.promises.readFile(join(temp.dir, 'audit.jsonl'), 'utf8')).split('\n').filter((l) => l !== '')
  assert.equal(lines.length, 5)
})
