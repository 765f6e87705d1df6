/**
 * MergingFileSink (backfill: --since given): merges each day's fetched records into that day's existing file without
 * duplicates, keeping it ascending. Per day, the existing file is streamed line by line and merged with the incoming
 * (ascending) records into a temp file beside it, which is fsynced and renamed over the original (then the directory is
 * fsynced): a crash leaves every day file either as it was or fully merged. A fetched record is dropped when a record
 * with the same canonical content is in the file within the overlap of it (late arrivals stand at most that far back).
 * Existing lines are kept byte for byte, also lines that do not parse (they are counted and left for `verify`).
 */
import { rename, unlink, type FileHandle } from 'node:fs/promises'
import { dirname } from 'node:path'
import { Writable } from 'node:stream'
import { dayFile, type ArchiveId } from '../archive/layout.js'
import { DayReader } from '../archive/lines.js'
import { writeAll } from '../archive/tail.js'
import { createTemp, syncDir } from '../atomic.js'
import { Y360Error } from '../errors.js'
import type { Logger } from '../log.js'
import { recordKey, type AuditRecord, type InstantOf, type SinkChunk, type SourceStats } from '../messages.js'
import type { Micros } from '../time.js'
import { LineEncoder, type Line as Encodable } from './encode.js'
import type { Scrub } from '../secrets.js'
import { appendRejected } from './file.js'

/** An existing line of the day file: its text (`out`, as the encoder writes it), and its instant and key when it is a record. */
interface Line {
  out: string
  us: Micros | undefined
  key: string | undefined
}

const FLUSH_BYTES = 256 * 1024

/** One day file being merged: existing lines (read ahead up to the overlap) + incoming records → temp file. */
class DayMerge {
  readonly path: string
  tmp = ''
  readonly #tolUs: Micros
  readonly #stats: SourceStats
  readonly #in: DayReader
  #out!: FileHandle
  #ahead: Line[] = [] // existing lines read but not yet written, in file order
  readonly #aheadKeys = new Map<string, number>()
  readonly #recent = new Map<string, Micros>() // keys written, within the tolerance of the newest incoming record
  #pending: Encodable[] = []
  readonly #encoder = new LineEncoder() // each flush is awaited before the next
  #pendingBytes = 0

  private constructor(input: DayReader, tolUs: Micros, stats: SourceStats) {
    this.path = input.path
    this.#in = input
    this.#tolUs = tolUs
    this.#stats = stats
  }

  static async open(path: string, instantOf: InstantOf, tolUs: Micros, stats: SourceStats): Promise<DayMerge> {
    const m = new DayMerge(await DayReader.open(path, instantOf), tolUs, stats)
    // The merged file replaces the day file: it keeps its mode and owner (a SIEM reader must not lose access).
    const st = await m.#in.fh?.stat()
    try {
      const t = await createTemp(path, 'merge', st === undefined ? 0o640 : st.mode & 0o7777)
      m.#out = t.fh
      m.tmp = t.tmp
      if (st !== undefined && (st.uid !== process.getuid?.() || st.gid !== process.getgid?.())) await m.#out.chown(st.uid, st.gid).catch((err: unknown) => {
        if ((err as NodeJS.ErrnoException).code !== 'EPERM') throw err // not root: the merged file is ours, as any file we write
      })
    } catch (err) {
      await m.#in.close()
      throw err
    }
    return m
  }

  async #readUntil(limit: Micros): Promise<void> {
    while (!this.#in.done && this.#in.newest <= limit) {
      let r
      try {
        r = await this.#in.next()
      } catch (err) {
        throw Object.assign(err as Error, { message: `${(err as Error).message}; the file was left as it was` })
      }
      if (r === undefined) break
      const line: Line = { out: r.text, us: r.us, key: r.key }
      this.#ahead.push(line)
      if (line.key !== undefined) this.#aheadKeys.set(line.key, (this.#aheadKeys.get(line.key) ?? 0) + 1)
    }
  }

  async #emit(line: Encodable): Promise<void> {
    this.#pending.push(line)
    this.#pendingBytes += (line.out === undefined ? (line as AuditRecord).end - (line as AuditRecord).start : line.out.length) + 1
    if (this.#pendingBytes >= FLUSH_BYTES) await this.#flush()
  }

  async #flush(): Promise<void> {
    if (this.#pending.length === 0) return
    const bytes = this.#encoder.encode(this.#pending)
    this.#pending = []
    this.#pendingBytes = 0
    await writeAll(this.#out, bytes)
  }

  /** Writes existing lines from the front while they are not newer than `us` (file order kept). */
  async #emitExistingUpTo(us: Micros): Promise<void> {
    while (this.#ahead.length > 0) {
      const head = this.#ahead[0]
      if (head.us !== undefined && head.us > us) break
      this.#ahead.shift()
      if (head.key !== undefined) {
        const n = (this.#aheadKeys.get(head.key) ?? 1) - 1
        if (n === 0) this.#aheadKeys.delete(head.key)
        else this.#aheadKeys.set(head.key, n)
        this.#recent.set(head.key, head.us as Micros)
      }
      await this.#emit(head)
    }
  }

  /** Merges one incoming record (records arrive ascending); returns false when it was already in the file. */
  async add(rec: AuditRecord): Promise<boolean> {
    const us = rec.us
    const key = recordKey(rec)
    await this.#readUntil(us + this.#tolUs)
    await this.#emitExistingUpTo(us)
    const horizon = us - this.#tolUs
    // Keys go in roughly ascending order: stop at the first one inside the window (O(1) amortised per record).
    for (const [k, t] of this.#recent) {
      if (t >= horizon) break
      this.#recent.delete(k)
    }
    if (this.#recent.has(key) || this.#aheadKeys.has(key)) {
      this.#stats.duplicates++
      return false
    }
    this.#recent.set(key, us)
    await this.#emit(rec)
    return true
  }

  /** Copies the rest of the existing file, syncs the temp file, runs `beforeRename` (given the synced temp file) and renames it over the day file. */
  async commit(beforeRename?: (tmp: string) => Promise<void>): Promise<void> {
    await this.#emitExistingUpTo(Infinity)
    while (!this.#in.done) {
      await this.#readUntil(Infinity)
      await this.#emitExistingUpTo(Infinity)
    }
    await this.#flush()
    await this.#out.sync()
    await this.#out.close()
    await this.#in.close()
    await beforeRename?.(this.tmp)
    await rename(this.tmp, this.path)
    await syncDir(dirname(this.path))
  }

  /** Drops the temp file; the day file stays as it was. */
  async abort(): Promise<void> {
    await this.#out.close().catch(() => undefined) // closing after a failed write: the first error is the one reported
    await this.#in.close()
    await unlink(this.tmp).catch(() => undefined)
  }
}

/** Called with a merged day's complete, synced temp file just before it is renamed over the day file `path`. */
export type BeforeRename = (d: { tmp: string; path: string; day: string }) => Promise<void>

/** in: SinkChunk (ascending); each day's records are merged into that day's file (see the top of this file). */
export class MergingFileSink extends Writable {
  readonly #archive: ArchiveId
  readonly #source: string
  readonly #instantOf: InstantOf
  readonly #tolUs: Micros
  readonly #log: Logger
  readonly #stats: SourceStats
  readonly #guard: () => void
  readonly #scrub: Scrub | undefined
  readonly #beforeRename: BeforeRename | undefined
  #day: DayMerge | undefined
  #dayName = ''
  #inflight: Promise<void> | undefined

  /**
   * `guard` runs before every chunk and every rename, and throws when this run may no longer write (lock lost);
   * `beforeRename` runs for each merged day once its temp file is complete and synced, just before it replaces the day
   * file (reconcile reopens a sealed day there); when it throws, the day file stays as it was.
   */
  constructor(o: { archive: ArchiveId; source: string; instantOf: InstantOf; toleranceUs: Micros; log: Logger; stats: SourceStats; guard?: () => void; scrub?: Scrub; beforeRename?: BeforeRename }) {
    super({ objectMode: true, highWaterMark: 1 })
    this.#archive = o.archive
    this.#source = o.source
    this.#instantOf = o.instantOf
    this.#tolUs = o.toleranceUs
    this.#log = o.log
    this.#stats = o.stats
    this.#guard = o.guard ?? (() => undefined)
    this.#scrub = o.scrub
    this.#beforeRename = o.beforeRename
  }

  override _write(chunk: SinkChunk, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    const p = this.#writeChunk(chunk)
    this.#inflight = p
    p.then(() => cb(), (err: unknown) => cb(this.#wrap(err)))
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.#finishDay().then(() => cb(), (err: unknown) => cb(this.#wrap(err)))
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    // Interrupted or failed: the day being merged keeps its old content (the temp file is dropped); finished days stay merged.
    // A write may still be running (a stop arrives at any time): let it settle first, or it would open the next
    // day's temp file after this cleanup.
    const settled = (this.#inflight ?? Promise.resolve()).then(() => undefined, () => undefined) // its error went to its callback
    settled.then(async () => {
      const d = this.#day
      this.#day = undefined
      await d?.abort()
    }).then(() => cb(err), () => cb(err))
  }

  async #writeChunk(chunk: SinkChunk): Promise<void> {
    this.#guard()
    for (const seg of chunk.segments) {
      const path = dayFile(this.#archive, seg.day)
      if (this.#day?.path !== path) {
        await this.#finishDay()
        this.#day = await DayMerge.open(path, this.#instantOf, this.#tolUs, this.#stats)
        this.#dayName = seg.day
      }
      for (const r of seg.records) {
        if (await (this.#day as DayMerge).add(r)) {
          this.#stats.wroteRecord(r.us, path)
        }
      }
    }
    await appendRejected(this.#archive, this.#source, chunk.rejected, this.#stats, this.#scrub)
  }

  async #finishDay(): Promise<void> {
    const d = this.#day
    if (d === undefined) return
    this.#day = undefined
    try {
      const day = this.#dayName
      const hook = this.#beforeRename
      // The lock is checked last thing before the rename: copying the rest of the day may take long.
      await d.commit(async (tmp) => {
        this.#guard()
        await hook?.({ tmp, path: d.path, day })
      })
    } catch (err) {
      await d.abort()
      throw err
    }
    this.#log.debug({ source: this.#source, file: d.path }, 'day file merged')
  }

  #wrap(err: unknown): Error {
    if (err instanceof Y360Error) return err
    const path = (err as { path?: string }).path ?? this.#archive.dir
    return new Y360Error('SINK_WRITE', `${this.#source}: backfill cannot merge into ${path}: ${(err as Error).message}; files not yet merged are unchanged`, { path, source: this.#source }, { cause: err })
  }
}
