import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connect, createServer, type Socket } from 'node:net'
import { createConnectionCap } from '../../../src/server/connection-cap.js'
import { waitFor } from '../../support/gateway.js'

/** A TCP server on 127.0.0.1 whose accepted sockets go through a cap of `max`. */
async function cappedServer(max: number) {
  const cap = createConnectionCap(max)
  const accepted: Socket[] = []
  const server = createServer((socket) => accepted.push(socket))
  server.prependListener('connection', cap.accept)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  const clients: Socket[] = []
  const open = async () => {
    const client = connect(port, '127.0.0.1')
    client.on('error', () => {})
    // Reading, so a close by the server is seen.
    client.resume()
    clients.push(client)
    await new Promise((resolve) => client.once('connect', resolve))
    return client
  }
  const close = async () => {
    for (const client of clients) client.destroy()
    await new Promise((resolve) => server.close(resolve))
  }
  return { cap, accepted, open, close }
}

test('at the cap, the oldest connection without a verified token goes first', async () => {
  const { cap, accepted, open, close } = await cappedServer(3)
  try {
    const first = await open()
    await waitFor(() => accepted.length === 1, 'the first connection accepted')
    cap.authenticated(accepted[0] as Socket)
    const second = await open()
    const third = await open()
    await waitFor(() => cap.open === 3, 'three connections open')
    const fourth = await open()
    await waitFor(() => second.destroyed, 'the oldest anonymous connection closed')
    assert.equal(first.destroyed, false)
    assert.equal(third.destroyed, false)
    assert.equal(fourth.destroyed, false)
    assert.equal(cap.open, 3)
  } finally {
    await close()
  }
})

test('when every open connection has shown a valid token, the new one is refused', async () => {
  const { cap, accepted, open, close } = await cappedServer(2)
  try {
    const a = await open()
    const b = await open()
    await waitFor(() => accepted.length === 2, 'two connections accepted')
    for (const socket of accepted) cap.authenticated(socket)
    const c = await open()
    await waitFor(() => c.destroyed, 'the new connection refused')
    assert.equal(a.destroyed, false)
    assert.equal(b.destroyed, false)
    // A closed connection frees its place.
    a.destroy()
    await waitFor(() => cap.open === 1, 'the closed connection forgotten')
    const d = await open()
    await waitFor(() => cap.open === 2, 'a new connection accepted')
    assert.equal(d.destroyed, false)
  } finally {
    await close()
  }
})
