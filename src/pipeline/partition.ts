/**
 * PartitionByDate: turns a batch of ascending records into per-day text segments, in order.
 * in: WindowBatch; out: SinkChunk. The day is the record's own instant in the configured zone (UTC by default).
 */
import { Transform, type TransformCallback } from 'node:stream'
import { DateTime } from 'luxon'
import type { Rejected, WindowBatch } from '../sources/windowed.js'
import type { AuditRecord } from '../sources/descriptor.js'
import type { Micros } from '../time.js'
import { serializer, type LineFormat } from './format.js'

export interface Segment {
  day: string
  /** The serialized lines, without their newlines (`encodeLines` makes the bytes to write). */
  lines: string[]
  first: Micros
  last: Micros
}

/** What a sink receives: one window's segments, its rejects and the window's bounds. */
export interface SinkChunk {
  lo: Micros
  hi: Micros
  segments: Segment[]
  rejected: Rejected[]
  /** The records themselves, for sinks that need more than text (the stdout cursor). */
  records: AuditRecord[]
}

/** Maps an instant to its local day `YYYY-MM-DD`, caching the current day's bounds (DST-safe through luxon). */
export function dayNamer(zone: string): (us: Micros) => string {
  let start = Infinity
  let end = -Infinity
  let name = ''
  return (us) => {
    const ms = Math.floor(us / 1000)
    if (ms < start || ms >= end) {
      const dt = DateTime.fromMillis(ms, { zone }).startOf('day')
      start = dt.toMillis()
      end = dt.plus({ days: 1 }).toMillis()
      name = dt.toISODate() as string
    }
    return name
  }
}

/**
 * Lines as UTF-8, each followed by a newline, in one buffer: each line is encoded straight into it (no joined string
 * in between, which for non-Latin-1 text costs a two-byte copy of everything). Sized for two bytes a character, the
 * most Cyrillic text needs; grows when a line needs more.
 */
export function encodeLines(lines: readonly string[]): Buffer {
  let chars = 0
  for (const l of lines) chars += l.length
  let buf = Buffer.allocUnsafe(2 * chars + lines.length)
  let off = 0
  for (const l of lines) {
    if (buf.length - off < 3 * l.length + 1) {
      const need = Buffer.byteLength(l) + 1
      if (buf.length - off < need) {
        const bigger = Buffer.allocUnsafe(Math.max(2 * buf.length, off + need))
        buf.copy(bigger, 0, 0, off)
        buf = bigger
      }
    }
    off += buf.write(l, off)
    buf[off++] = 0x0a
  }
  return buf.subarray(0, off)
}

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

  #line(r: AuditRecord): string {
    if (this.#write === undefined) return r.line
    const data = JSON.parse(r.line) as Record<string, unknown>
    return this.#write(this.#decorate === undefined ? data : this.#decorate(data))
  }

  override _transform(batch: WindowBatch, _enc: BufferEncoding, cb: TransformCallback): void {
    const segments: Segment[] = []
    let cur: Segment | undefined
    for (const r of batch.records) {
      const day = this.#day(r.us)
      if (cur === undefined || cur.day !== day) {
        cur = { day, lines: [], first: r.us, last: r.us }
        segments.push(cur)
      }
      cur.lines.push(this.#line(r))
      cur.last = r.us
    }
    const chunk: SinkChunk = { lo: batch.lo, hi: batch.hi, segments, rejected: batch.rejected, records: batch.records }
    cb(null, chunk)
  }
}
