import type { Counter, Registry } from 'prom-client'

/**
 * Counters and histograms for what happens on every request, kept as plain numbers and turned
 * into Prometheus values only when /metrics is read. prom-client's own `inc`/`observe` build a
 * string key from the label values on every call (its `labels()` children too) and validate the
 * labels; that was 2-4 µs of every request here. A tally resolves a label tuple to its cell with
 * one lookup per label value and then only adds.
 *
 * Both register in a prom-client `Registry` as metric objects of the shape its own metrics return
 * from `get()` (the shape `AggregatorRegistry` also registers, and sums across cluster workers),
 * so the exposition text is the same as prom-client's `Counter` and `Histogram` write.
 */

/** One label tuple's count. */
export interface CounterCell {
  value: number
}

/** One label tuple's histogram: per-bucket (not cumulative) counts, the last one for +Inf. */
export interface HistogramCell {
  readonly counts: Float64Array
  sum: number
  count: number
}

interface Series<C> {
  readonly labels: Readonly<Record<string, string>>
  readonly cell: C
}

interface MetricValue {
  value: number
  labels: Record<string, string | number>
  metricName?: string
}

/**
 * Cells by label values: nested maps, one level per label (at most two here), so a lookup with
 * constant strings is a hash probe per level and no string is built. A family without labels has
 * its one cell from the start (prom-client exports those at 0 before anything happened).
 */
abstract class Family<C> {
  readonly aggregator = 'sum'
  protected readonly series: Array<Series<C>> = []
  readonly #cells = new Map<string, C | Map<string, C>>()
  readonly #only: C | undefined

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    registry: Registry,
    private readonly create: () => C,
  ) {
    if (labelNames.length > 2) throw new TypeError(`${name}: at most two labels`)
    this.#only = labelNames.length === 0 ? this.#add([]) : undefined
    // prom-client's Registry accepts any object of its metric shape (name, help, type, get).
    registry.registerMetric(this as unknown as Counter)
  }

  /** The cell of these label values (in `labelNames` order), created on first use. */
  at(a?: string, b?: string): C {
    if (this.#only !== undefined) return this.#only
    const first = this.#cells.get(a as string)
    if (this.labelNames.length === 1) return (first as C | undefined) ?? this.#addAt([a as string])
    const cell = (first as Map<string, C> | undefined)?.get(b as string)
    return cell ?? this.#addAt([a as string, b as string])
  }

  #addAt(values: readonly string[]): C {
    const cell = this.#add(values)
    const [a, b] = values as [string, string | undefined]
    if (b === undefined) this.#cells.set(a, cell)
    else {
      let level = this.#cells.get(a) as Map<string, C> | undefined
      if (level === undefined) this.#cells.set(a, (level = new Map()))
      level.set(b, cell)
    }
    return cell
  }

  #add(values: readonly string[]): C {
    const labels: Record<string, string> = {}
    this.labelNames.forEach((name, i) => {
      labels[name] = String(values[i])
    })
    const cell = this.create()
    this.series.push({ labels, cell })
    return cell
  }
}

export class TallyCounter extends Family<CounterCell> {
  readonly type = 'counter'

  constructor(name: string, help: string, labelNames: readonly string[], registry: Registry) {
    super(name, help, labelNames, registry, () => ({ value: 0 }))
  }

  async get(): Promise<{ name: string; help: string; type: 'counter'; aggregator: 'sum'; values: MetricValue[] }> {
    const values = this.series.map(({ labels, cell }) => ({ value: cell.value, labels: { ...labels } }))
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values }
  }
}

export class TallyHistogram extends Family<HistogramCell> {
  readonly type = 'histogram'
  readonly #bounds: readonly number[]

  constructor(name: string, help: string, labelNames: readonly string[], buckets: readonly number[], registry: Registry) {
    const bounds = [...buckets].sort((x, y) => x - y)
    super(name, help, labelNames, registry, () => ({ counts: new Float64Array(bounds.length + 1), sum: 0, count: 0 }))
    this.#bounds = bounds
  }

  /**
   * Adds `value` to the first bucket whose upper bound is at least `value` (le), or to +Inf. A
   * value that is not a finite number is not counted (prom-client threw, inside the decision
   * event's subscriber).
   */
  observe(cell: HistogramCell, value: number): void {
    if (!Number.isFinite(value)) return
    const bounds = this.#bounds
    let i = 0
    while (i < bounds.length && value > (bounds[i] as number)) i++
    cell.counts[i] = (cell.counts[i] as number) + 1
    cell.sum += value
    cell.count++
  }

  async get(): Promise<{ name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: MetricValue[] }> {
    const values: MetricValue[] = []
    const bucket = `${this.name}_bucket`
    for (const { labels, cell } of this.series) {
      let cumulative = 0
      this.#bounds.forEach((le, i) => {
        cumulative += cell.counts[i] as number
        values.push({ value: cumulative, labels: { le, ...labels }, metricName: bucket })
      })
      values.push({ value: cell.count, labels: { le: '+Inf', ...labels }, metricName: bucket })
      values.push({ value: cell.sum, labels: { ...labels }, metricName: `${this.name}_sum` })
      values.push({ value: cell.count, labels: { ...labels }, metricName: `${this.name}_count` })
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values }
  }
}
