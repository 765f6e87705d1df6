/**
 * PartitionByDate: turns a batch of ascending records into per-day segments, in order, each record carrying the line
 * to write. in: WindowBatch; out: SinkChunk. The day is the record's own instant in the configured zone (UTC by
 * default). Drops nothing.
 */
import { Transform, type TransformCallback } from 'node:stream'
import { dayNamer } from '../archive/layout.js'
import { recordText, type AuditRecord, type Segment, type SinkChunk, type WindowBatch } from '../messages.js'
import type { Micros } from '../time.js'
import { serializer, type LineFormat } from './format.js'

export interface PartitionOptions {
  zone: string
  lineFormat: LineFormat
  /** Transforms the record before serialising (e.g. adding `_source`); identity when absent. */
  decorate?: (data: Record<string, unknown>) => Record<string, unknown>
}

export class PartitionByDate extends Transform {
  readonly #day: (us: Micros) => string
  readonly #write: ((d: unknown) => string) | undefined
  readonly #decorate: ((d: Record<string, unknown>) => Record<string, unknown>) | undefined

  constructor(opts: PartitionOptions) {
    super({ objectMode: true, highWaterMark: 1 })
    this.#day = dayNamer(opts.zone)
    // Compact undecorated lines are the record's own text; other forms re-parse it (only those runs pay for it).
    this.#write = opts.lineFormat === 'compact' && opts.decorate === undefined ? undefined : serializer(opts.lineFormat)
    this.#decorate = opts.decorate
  }

  #format(r: AuditRecord): void {
    if (this.#write === undefined) return
    const data = JSON.parse(recordText(r)) as Record<string, unknown>
    try {
      r.out = this.#write(this.#decorate === undefined ? data : this.#decorate(data))
    } catch (err) {
      // A record too deep for the recursive encoders (counted `deep-record` by the source) is written as the API sent it.
      if (!(err instanceof RangeError)) throw err
    }
  }

  override _transform(batch: WindowBatch, _enc: BufferEncoding, cb: TransformCallback): void {
    const segments: Segment[] = []
    let cur: Segment | undefined
    for (const r of batch.records) {
      const day = this.#day(r.us)
      if (cur === undefined || cur.day !== day) {
        cur = { day, records: [], first: r.us, last: r.us }
        segments.push(cur)
      }
      this.#format(r)
      cur.records.push(r)
      cur.last = r.us
    }
    const chunk: SinkChunk = { lo: batch.lo, hi: batch.hi, segments, rejected: batch.rejected }
    cb(null, chunk)
  }
}
