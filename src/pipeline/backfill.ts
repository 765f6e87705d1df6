/**
 * MergingFileSink (backfill: --since given): merges each day's fetched records into that day's existing file without
 * duplicates, keeping it ascending. Per day, the existing file is streamed line by line and merged with the incoming
 * (ascending) records into a temp file beside it, which is fsynced and renamed over the original (then the directory is
 * fsynced): a crash leaves every day file either as it was or fully merged. A fetched record is dropped when a record
 * with the same canonical content is in the file within the overlap of it (late arrivals stand at most that far back).
 * Existing lines are kept byte for byte, also lines that do not parse (they are counted and left for `verify`).
 */
import { open, rename, unlink, type FileHandle } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { Writable } from 'node:stream'
import { syncDir } from '../atomic.js'
import { Y360Error } from '../errors.js'
import type { Logger } from '../log.js'
import { canonicalKey, recordKey, type EndpointDescriptor } from '../sources/descriptor.js'
import { appendRejected, writeAll, type SinkStats } from '../sinks/file.js'
import type { Micros } from '../time.js'
import { dayFile, lineInstant, type ArchiveId } from './archive.js'
import { encodeLines, type SinkChunk } from './partition.js'

/** Lines of a file from start to end, a block at a time (the last one may lack its newline). */
export async function* linesForward(fh: FileHandle, blockSize = 64 * 1024): AsyncGenerator<string> {
  const buf = Buffer.allocUnsafe(blockSize)
  let carry: Buffer = Buffer.alloc(0)
  let pos = 0
  for (;;) {
    const { bytesRead } = await fh.read(buf, 0, blockSize, pos)
    if (bytesRead === 0) break
    pos += bytesRead
    const chunk = carry.length > 0 ? Buffer.concat([carry, buf.subarray(0, bytesRead)]) : buf.subarray(0, bytesRead)
    let start = 0
    for (let i = chunk.indexOf(0x0a); i !== -1; i = chunk.indexOf(0x0a, start)) {
      yield chunk.toString('utf8', start, i)
      start = i + 1
    }
    carry = Buffer.from(chunk.subarray(start))
  }
  if (carry.length > 0) yield carry.toString('utf8')
}

/** Instant and canonical key of an archive line; undefined (counted as unreadable, copied as it was) when it is not a record. */
function parseLine(ep: EndpointDescriptor, text: string): { us: Micros; key: string } | undefined {
  const rec = lineInstant(ep, text)
  return rec === undefined ? undefined : { us: rec.us, key: canonicalKey(rec.data) }
}

interface Line {
  text: string
  us: Micros | undefined
  key: string | undefined
}

export interface MergeStats {
  /** Fetched records already in the day files (dropped). */
  duplicates: number
  /** Existing lines that do not parse (copied as they were). */
  unreadable: number
  /** Day files rewritten (merged) or created. */
  merged: number
}

const FLUSH_BYTES = 256 * 1024

/** One day file being merged: existing lines (read ahead up to the overlap) + incoming records → temp file. */
class DayMerge {
  readonly path: string
  readonly tmp: string
  readonly #ep: EndpointDescriptor
  readonly #tolUs: Micros
  readonly #stats: MergeStats
  #in: FileHandle | undefined
  #lines: AsyncGenerator<string> | undefined
  #out!: FileHandle
  #ahead: Line[] = [] // existing lines read but not yet written, in file order
  readonly #aheadKeys = new Map<string, number>()
  readonly #recent = new Map<string, Micros>() // keys written, within the tolerance of the newest incoming record
  #eof = false
  #maxRead = -Infinity
  #pending: string[] = []
  #pendingBytes = 0

  private constructor(path: string, ep: EndpointDescriptor, tolUs: Micros, stats: MergeStats) {
    this.path = path
    this.tmp = join(dirname(path), `.${basename(path)}.merge-${process.pid}.tmp`)
    this.#ep = ep
    this.#tolUs = tolUs
    this.#stats = stats
  }

  static async open(path: string, ep: EndpointDescriptor, tolUs: Micros, stats: MergeStats): Promise<DayMerge> {
    const m = new DayMerge(path, ep, tolUs, stats)
    try {
      m.#in = await open(path, 'r')
      m.#lines = linesForward(m.#in)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
      m.#eof = true
    }
    m.#out = await open(m.tmp, 'w', 0o640)
    return m
  }

  async #readUntil(limit: Micros): Promise<void> {
    while (!this.#eof && this.#maxRead <= limit) {
      const r = await (this.#lines as AsyncGenerator<string>).next()
      if (r.done === true) {
        this.#eof = true
        break
      }
      if (r.value.trim() === '') continue
      const rec = parseLine(this.#ep, r.value)
      if (rec === undefined) this.#stats.unreadable++
      const line: Line = { text: r.value, us: rec?.us, key: rec?.key }
      this.#ahead.push(line)
      if (line.key !== undefined) this.#aheadKeys.set(line.key, (this.#aheadKeys.get(line.key) ?? 0) + 1)
      if (line.us !== undefined && line.us > this.#maxRead) this.#maxRead = line.us
    }
  }

  async #emit(text: string): Promise<void> {
    this.#pending.push(text)
    this.#pendingBytes += text.length + 1
    if (this.#pendingBytes >= FLUSH_BYTES) await this.#flush()
  }

  async #flush(): Promise<void> {
    if (this.#pending.length === 0) return
    const bytes = encodeLines(this.#pending)
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
      await this.#emit(head.text)
    }
  }

  /** Merges one incoming record (records arrive ascending); returns false when it was already in the file. */
  async add(us: Micros, key: string, text: string): Promise<boolean> {
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
    await this.#emit(text)
    return true
  }

  /** Copies the rest of the existing file, syncs the temp file and renames it over the day file. */
  async commit(): Promise<void> {
    await this.#emitExistingUpTo(Infinity)
    while (!this.#eof) {
      await this.#readUntil(Infinity)
      await this.#emitExistingUpTo(Infinity)
    }
    await this.#flush()
    await this.#out.sync()
    await this.#out.close()
    await this.#in?.close()
    await rename(this.tmp, this.path)
    await syncDir(dirname(this.path))
    this.#stats.merged++
  }

  /** Drops the temp file; the day file stays as it was. */
  async abort(): Promise<void> {
    await this.#out.close().catch(() => undefined) // closing after a failed write: the first error is the one reported
    await this.#in?.close().catch(() => undefined)
    await unlink(this.tmp).catch(() => undefined)
  }
}

export class MergingFileSink extends Writable {
  readonly stats: SinkStats = { written: 0, rejected: 0, files: new Set(), first: undefined, last: undefined }
  readonly merge: MergeStats = { duplicates: 0, unreadable: 0, merged: 0 }
  readonly #archive: ArchiveId
  readonly #ep: EndpointDescriptor
  readonly #tolUs: Micros
  readonly #log: Logger
  #day: DayMerge | undefined
  #inflight: Promise<void> | undefined

  constructor(archive: ArchiveId, ep: EndpointDescriptor, toleranceUs: Micros, log: Logger) {
    super({ objectMode: true, highWaterMark: 1 })
    this.#archive = archive
    this.#ep = ep
    this.#tolUs = toleranceUs
    this.#log = log
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
    let i = 0
    for (const seg of chunk.segments) {
      const path = dayFile(this.#archive, seg.day)
      if (this.#day?.path !== path) {
        await this.#finishDay()
        this.#day = await DayMerge.open(path, this.#ep, this.#tolUs, this.merge)
      }
      for (let j = 0; j < seg.lines.length; j++) {
        const r = chunk.records[i++]
        if (await (this.#day as DayMerge).add(r.us, recordKey(r), seg.lines[j])) {
          this.stats.written++
          this.stats.files.add(path)
          this.stats.first ??= r.us
          this.stats.last = r.us
        }
      }
    }
    if (chunk.rejected.length > 0) {
      await appendRejected(this.#archive, this.#ep.name, chunk.rejected)
      this.stats.rejected += chunk.rejected.length
    }
  }

  async #finishDay(): Promise<void> {
    const d = this.#day
    if (d === undefined) return
    this.#day = undefined
    try {
      await d.commit()
    } catch (err) {
      await d.abort()
      throw err
    }
    this.#log.debug({ source: this.#ep.name, file: d.path }, 'day file merged')
  }

  #wrap(err: unknown): Error {
    if (err instanceof Y360Error) return err
    const path = (err as { path?: string }).path ?? this.#archive.dir
    return new Y360Error('SINK_WRITE', `${this.#ep.name}: backfill cannot merge into ${path}: ${(err as Error).message}; files not yet merged are unchanged`, { path, source: this.#ep.name }, { cause: err })
  }
}
