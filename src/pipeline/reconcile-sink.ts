/**
 * ReconcileSink: in: SinkChunk (one source's records for a range asked of the API again, ascending by day and instant).
 * Compares each day with its day file by record identity (DayDiff), and hands only what the file lacks to `repair` (a
 * merging or appending file sink) unless it is a dry run. Days of the range whose file exists but got no record from
 * the API are compared too (everything in them is then unconfirmed, or beyond the API's retention). Reports each day
 * compared through `onDay` once it is settled; nothing is reported for a day neither side has records of.
 */
import { Writable } from 'node:stream'
import { finished } from 'node:stream/promises'
import { dayFile, type ArchiveFile, type ArchiveId } from '../archive/layout.js'
import { DayDiff, type DayCounts } from '../archive/diff.js'
import { recordKey, type AuditRecord, type InstantOf, type Segment, type SinkChunk } from '../messages.js'
import type { Micros } from '../time.js'

/** One day compared: where, and what was found. */
export interface DayReport extends DayCounts {
  day: string
  file: string
}

const DAY_US = 86_400_000_000

/** Where the API's retention of `retentionDays` starts at `nowMs` (µs): older records are expected to be gone. */
export const retentionStart = (nowMs: number, retentionDays: number): Micros => nowMs * 1000 - retentionDays * DAY_US

export interface ReconcileSinkOptions {
  archive: ArchiveId
  instantOf: InstantOf
  toleranceUs: Micros
  /** The range asked again, [from, to). */
  range: { from: Micros; to: Micros }
  /** The range's existing day files, ascending by day. */
  files: readonly ArchiveFile[]
  /** Where the API's retention starts. */
  retainedFrom: Micros
  /** The sink that writes what the archive lacks; undefined for a dry run (nothing is written). */
  repair: Writable | undefined
  /** Called for each day once it is settled. */
  onDay: (r: DayReport) => void
  /** Called for each record the archive lacks (before it is written). */
  onMissing?: (r: AuditRecord) => void
  /** Awaited before the n-th batch (from 1) goes to `repair` (a test seam: a crash at a known point). */
  beforeRepair?: (n: number) => Promise<void>
}

export class ReconcileSink extends Writable {
  readonly #o: ReconcileSinkOptions
  readonly #pending: ArchiveFile[] // day files of the range not yet compared
  #day: { name: string; diff: DayDiff } | undefined
  #passes = 0

  constructor(o: ReconcileSinkOptions) {
    super({ objectMode: true, highWaterMark: 1 })
    this.#o = o
    this.#pending = [...o.files]
  }

  override _write(chunk: SinkChunk, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.#chunk(chunk).then(() => cb(), (err: unknown) => cb(err as Error))
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.#end().then(() => cb(), (err: unknown) => cb(err as Error))
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    // The repair sink drops its temp file on destroy (a day being merged stays as it was).
    const repair = this.#o.repair
    const closing = repair === undefined || repair.destroyed ? Promise.resolve() : finished(repair).catch(() => undefined)
    repair?.destroy(err ?? undefined)
    Promise.all([this.#day?.diff.close(), closing]).then(() => cb(err), () => cb(err))
  }

  async #chunk(chunk: SinkChunk): Promise<void> {
    const lacking: Segment[] = []
    for (const seg of chunk.segments) {
      await this.#enter(seg.day)
      const diff = (this.#day as { diff: DayDiff }).diff
      const records: AuditRecord[] = []
      for (const r of seg.records) {
        if (await diff.has(r.us, recordKey(r))) continue
        this.#o.onMissing?.(r)
        records.push(r)
      }
      if (records.length > 0) lacking.push({ day: seg.day, records, first: records[0].us, last: records[records.length - 1].us })
    }
    if (this.#o.repair !== undefined && (lacking.length > 0 || chunk.rejected.length > 0)) await this.#pass({ lo: chunk.lo, hi: chunk.hi, segments: lacking, rejected: chunk.rejected })
  }

  /** Settles the day being compared and every file day before `day`, then opens `day`. */
  async #enter(day: string): Promise<void> {
    if (this.#day?.name === day) return
    await this.#settleDay()
    // Day names sort as the days they name (YYYY-MM-DD); the files come sorted by it (listArchive).
    while (this.#pending.length > 0 && this.#pending[0].day < day) await this.#settleFile(this.#pending.shift() as ArchiveFile)
    if (this.#pending[0]?.day === day) this.#pending.shift()
    this.#day = { name: day, diff: await DayDiff.open(dayFile(this.#o.archive, day), { ...this.#o, ...this.#o.range }) }
  }

  async #settleDay(): Promise<void> {
    const d = this.#day
    if (d === undefined) return
    this.#day = undefined
    this.#report(d.name, d.diff.path, await d.diff.finish())
  }

  async #settleFile(f: ArchiveFile): Promise<void> {
    const diff = await DayDiff.open(f.path, { ...this.#o, ...this.#o.range })
    this.#report(f.day, f.path, await diff.finish())
  }

  #report(day: string, file: string, c: DayCounts): void {
    if (c.archived > 0 || c.api > 0) this.#o.onDay({ day, file, ...c })
  }

  async #end(): Promise<void> {
    await this.#settleDay()
    while (this.#pending.length > 0) await this.#settleFile(this.#pending.shift() as ArchiveFile)
    const repair = this.#o.repair
    if (repair === undefined) return
    const done = finished(repair)
    repair.end()
    await done
  }

  async #pass(chunk: SinkChunk): Promise<void> {
    const repair = this.#o.repair as Writable
    await this.#o.beforeRepair?.(++this.#passes)
    return new Promise((resolve, reject) => {
      repair.write(chunk, (err) => (err ? reject(err) : resolve()))
    })
  }
}
