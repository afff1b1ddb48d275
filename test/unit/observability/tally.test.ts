import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { AggregatorRegistry, Counter, Histogram, Registry } from 'prom-client'
import { TallyCounter, TallyHistogram } from '../../../src/observability/tally.js'

const BUCKETS = [0.001, 0.01, 0.1, 1]
const OBSERVED: Array<[string, number]> = [
  ['allow', 0.0005],
  ['allow', 0.001],
  ['allow', 0.05],
  ['deny', 0.002],
  ['allow', 7],
  ['deny', 0.1],
]

/** The same traffic counted by prom-client's own metrics and by the tallies. */
function both(): { prom: Registry; tally: Registry } {
  const prom = new Registry()
  const registers = [prom]
  const requests = new Counter({ name: 'requests_total', help: 'Requests.', labelNames: ['decision', 'status'], registers })
  const plain = new Counter({ name: 'plain_total', help: 'No labels.', registers })
  const unused = new Counter({ name: 'unused_total', help: 'Never counted.', labelNames: ['reason'], registers })
  const duration = new Histogram({ name: 'duration_seconds', help: 'Durations.', labelNames: ['decision'], buckets: BUCKETS, registers })
  const upstream = new Histogram({ name: 'upstream_seconds', help: 'No labels.', buckets: BUCKETS, registers })
  void unused

  const tally = new Registry()
  const tRequests = new TallyCounter('requests_total', 'Requests.', ['decision', 'status'], tally)
  const tPlain = new TallyCounter('plain_total', 'No labels.', [], tally)
  new TallyCounter('unused_total', 'Never counted.', ['reason'], tally)
  const tDuration = new TallyHistogram('duration_seconds', 'Durations.', ['decision'], BUCKETS, tally)
  const tUpstream = new TallyHistogram('upstream_seconds', 'No labels.', [], BUCKETS, tally)

  for (const [decision, seconds] of OBSERVED) {
    const status = decision === 'allow' ? '200' : '403'
    requests.inc({ decision, status })
    tRequests.at(decision, status).value++
    plain.inc()
    tPlain.at().value++
    duration.observe({ decision }, seconds)
    tDuration.observe(tDuration.at(decision), seconds)
    upstream.observe(seconds / 2)
    tUpstream.observe(tUpstream.at(), seconds / 2)
  }
  return { prom, tally }
}

describe('tallies', () => {
  test('render the same exposition text as prom-client Counter and Histogram', async () => {
    const { prom, tally } = both()
    assert.equal(await tally.metrics(), await prom.metrics())
  })

  test('before anything is counted: label-less series at 0, labelled ones absent, as prom-client', async () => {
    const prom = new Registry()
    new Counter({ name: 'a_total', help: 'a', registers: [prom] })
    new Histogram({ name: 'h_seconds', help: 'h', buckets: BUCKETS, registers: [prom] })
    new Counter({ name: 'b_total', help: 'b', labelNames: ['x'], registers: [prom] })
    const tally = new Registry()
    new TallyCounter('a_total', 'a', [], tally)
    new TallyHistogram('h_seconds', 'h', [], BUCKETS, tally)
    new TallyCounter('b_total', 'b', ['x'], tally)
    assert.equal(await tally.metrics(), await prom.metrics())
  })

  test('a value that is not a finite number is not observed', async () => {
    const registry = new Registry()
    const h = new TallyHistogram('h_seconds', 'h', [], BUCKETS, registry)
    h.observe(h.at(), Number.NaN)
    h.observe(h.at(), Number.POSITIVE_INFINITY)
    h.observe(h.at(), 0.5)
    assert.match(await registry.metrics(), /^h_seconds_count 1$/m)
    assert.match(await registry.metrics(), /^h_seconds_sum 0.5$/m)
  })

  test('cluster workers sum up as prom-client metrics do (AggregatorRegistry)', async () => {
    const one = both()
    const two = both()
    const summed = AggregatorRegistry.aggregate([await one.tally.getMetricsAsJSON(), await two.tally.getMetricsAsJSON()])
    const expected = AggregatorRegistry.aggregate([await one.prom.getMetricsAsJSON(), await two.prom.getMetricsAsJSON()])
    assert.equal(await summed.metrics(), await expected.metrics())
    assert.match(await summed.metrics(), /^requests_total\{decision="allow",status="200"\} 8$/m)
  })

  test('at most two labels', () => {
    assert.throws(() => new TallyCounter('x_total', 'x', ['a', 'b', 'c'], new Registry()), /at most two labels/)
  })
})
