/**
 * RotatingFileSink: appends each segment to `<dir>/<base>_<day>.<ext>` (0640), one open file at a time; fsync at every
 * window boundary, file switch and the end. Rejected records go to `<dir>/<base>.rejected` with their reason.
 * Each write is awaited before the callback, so a slow disk slows the fetching (backpressure).
 */
import { rm, type FileHandle } from 'node:fs/promises'
import { Writable } from 'node:stream'
import type { Scrub } from '../secrets.js'
import { dayFile, rejectedFile, type ArchiveId } from '../archive/layout.js'
import { writeAll } from '../archive/tail.js'
import { linesBackward } from '../archive/lines.js'
import { openAppend, openAppendTelling, openRead } from '../atomic.js'
import { Y360Error, sysCode } from '../errors.js'
import type { Rejected, SinkChunk, SourceStats } from '../messages.js'
import { LineEncoder } from './encode.js'

/** A write failure as the user must see it: the path, the reason in words, and what is on disk. */
export function sinkError(path: string, err: unknown, note = ''): Y360Error {
  const e = err as NodeJS.ErrnoException
  const why: Record<string, string> = {
    ENOSPC: 'the disk is full',
    EDQUOT: 'the disk quota is exhausted',
    EACCES: 'permission denied',
    EPERM: 'permission denied',
    EROFS: 'the file system is read-only',
    ENOENT: 'the directory was removed',
    EISDIR: 'a directory is in the way',
    EIO: 'an I/O error occurred',
  }
  const reason = (e.code && why[e.code]) ?? e.message
  return new Y360Error('SINK_WRITE', `cannot write ${path}: ${reason} (${e.code ?? 'error'})${note === '' ? '' : `; ${note}`}; what is on disk is a valid prefix, the next run continues from it`, { path }, { cause: err })
}

export class RotatingFileSink extends Writable {
  readonly #stats: SourceStats
  readonly #archive: ArchiveId
  readonly #source: string
  readonly #guard: () => void
  readonly #scrub: Scrub
  readonly #opening: ((day: string) => Promise<void>) | undefined
  readonly #finished: ((path: string) => Promise<void>) | undefined
  #fh: FileHandle | undefined
  #path = ''
  /** The open file's size: where the next write begins (the cut-back point if it fails). */
  #size = 0
  /** This sink created the open file and has not written to it yet: closed so, it is removed (no empty day file). */
  #empty = false
  readonly #encoder = new LineEncoder()
  /** The write in progress (settled): destroying waits for it, so no file is opened or written after the end. */
  #writing: Promise<void> = Promise.resolve()

  /**
   * `guard` runs before every write and throws when this run may no longer write (its lock was taken over); `scrub`
   * cleans `.rejected` lines; `opening` is awaited before a day file is opened for writing (a sealed day is reopened);
   * `finished` is told of a day file this sink wrote, synced and closed to go on with a later day (an early digest;
   * not awaited, it must not reject).
   */
  constructor(archive: ArchiveId, source: string, stats: SourceStats, guard: () => void = () => undefined, scrub: Scrub = (s) => s, opening?: (day: string) => Promise<void>, finished?: (path: string) => Promise<void>) {
    super({ objectMode: true, highWaterMark: 1 })
    this.#archive = archive
    this.#source = source
    this.#stats = stats
    this.#guard = guard
    this.#scrub = scrub
    this.#opening = opening
    this.#finished = finished
  }

  override _write(chunk: SinkChunk, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    const p = this.#writeChunk(chunk)
    this.#writing = p.catch(() => undefined) // its error goes to cb
    p.then(() => cb(), (err: unknown) => cb(err as Error))
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.#switchTo(undefined).then(() => cb(), (err: unknown) => cb(err as Error))
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    // On failure or interruption, still sync what reached the file: it is a valid prefix. A window being written when a
    // source fails stops at its next segment, and only then is the file closed (synced, counted before the summary is
    // taken): nothing is written after the run ends.
    this.#writing.then(() => this.#switchTo(undefined)).then(() => cb(err), (e: unknown) => cb(err ?? (e as Error)))
  }

  async #writeChunk(chunk: SinkChunk): Promise<void> {
    this.#guard()
    for (const seg of chunk.segments) {
      if (this.destroyed) return // the pipeline ended meanwhile: no further file is opened or written
      const path = dayFile(this.#archive, seg.day)
      if (path !== this.#path) {
        await this.#opening?.(seg.day)
        await this.#switchTo(path)
      }
      if (this.destroyed) return // ended while the previous file was closed
      const fh = this.#fh as FileHandle
      const before = this.#size
      try {
        const bytes = this.#encoder.encode(seg.records)
        await writeAll(fh, bytes)
        this.#size += bytes.length
        this.#empty = false
      } catch (err) {
        // Leave no half line behind: cut the file back to where this write began (a full disk gets that space back).
        const cut = await fh.truncate(before).then(
          () => 'the partial write was cut back',
          (e: unknown) => `the partial write could not be cut back (${sysCode(e) ?? String(e)}); the next run moves it to a .torn file`,
        )
        throw sinkError(path, err, cut)
      }
      this.#stats.wrote(seg, path)
    }
    await appendRejected(this.#archive, this.#source, chunk.rejected, this.#stats, this.#scrub)
    await this.#sync() // window boundary
  }

  async #sync(): Promise<void> {
    if (this.#fh === undefined) return
    let links: number
    try {
      await this.#fh.sync()
      links = (await this.#fh.stat()).nlink
    } catch (err) {
      throw sinkError(this.#path, err)
    }
    // Writes to a file whose directory was removed still succeed, into nothing: stop instead of reporting them written.
    if (links === 0) throw sinkError(this.#path, Object.assign(new Error('the file was removed while being written'), { code: 'ENOENT' }))
  }

  /**
   * Syncs and closes the open file, then opens `path` for appending (undefined: just close). A file this sink created
   * and never wrote to (the run ended between the open and the write) is removed: the archive and the summary agree.
   */
  async #switchTo(path: string | undefined): Promise<void> {
    const old = this.#fh
    this.#fh = undefined
    if (old !== undefined) {
      try {
        await old.sync()
      } catch (err) {
        await old.close().catch(() => undefined) // the sync error is the one to report
        throw sinkError(this.#path, err)
      }
      await old.close()
      if (this.#empty) await rm(this.#path, { force: true })
      else if (path !== undefined) void this.#finished?.(this.#path)
    }
    this.#path = path ?? ''
    this.#empty = false
    if (path === undefined || this.destroyed) return
    try {
      const { fh, created } = await openAppendTelling(path)
      this.#fh = fh
      this.#empty = created
      this.#size = (await fh.stat()).size
    } catch (err) {
      throw sinkError(path, err)
    }
  }
}

/** Bytes of `.rejected` read back to find what it holds already: every run sees the overlap's rejects again. */
const REJECTED_TAIL = 4 * 1024 * 1024

/** What makes two `.rejected` entries the same: the reason and the record's text (its `at` differs every run). */
function rejectedKey(reason: unknown, recordText: string): string {
  return `${String(reason)}\0${recordText}`
}

/** The record's JSON text: as the API sent it when known, else encoded (a record too deep to encode is described). */
function recordText(r: Rejected): string {
  if (r.text !== undefined) return r.text
  try {
    return JSON.stringify(r.record) ?? 'null'
  } catch {
    return JSON.stringify({ unencodable: 'nested too deep to encode; the API sent no text for it that could be sliced' })
  }
}

/** Keys of the entries in the last REJECTED_TAIL bytes of `.rejected` (empty when there is none). */
async function recentRejects(path: string): Promise<Set<string>> {
  const keys = new Set<string>()
  let fh: FileHandle
  try {
    fh = await openRead(path)
  } catch (err) {
    if (sysCode(err) === 'ENOENT') return keys
    throw sinkError(path, err)
  }
  try {
    const size = (await fh.stat()).size
    let bytes = 0
    for await (const line of linesBackward(fh, size)) {
      bytes += line.bytes + 1
      if (bytes > REJECTED_TAIL) break
      const m = line.text === undefined ? null : /^\{"at":"[^"]*","source":"[^"]*","reason":("(?:[^"\\]|\\.)*"),"record":(.*)\}$/s.exec(line.text)
      if (m !== null) keys.add(rejectedKey(JSON.parse(m[1]), m[2]))
    }
  } finally {
    await fh.close()
  }
  return keys
}

/**
 * Appends rejected records to `<dir>/<base>.rejected` with their reason (both file sinks), synced before returning.
 * Each record is written once: an entry already in the file's recent tail (the same reason and text, as every run
 * fetches its overlap again) is not appended again, nor counted again. The record is the text the API sent.
 */
export async function appendRejected(archive: ArchiveId, source: string, rejected: readonly Rejected[], stats: SourceStats, scrub: Scrub = (s) => s): Promise<void> {
  if (rejected.length === 0) return
  const path = rejectedFile(archive)
  const seen = await recentRejects(path)
  const at = new Date().toISOString()
  let text = ''
  let n = 0
  for (const r of rejected) {
    const rec = recordText(r)
    const key = rejectedKey(r.reason, rec)
    if (seen.has(key)) continue
    seen.add(key)
    n++
    // A record the server filled with the token (an echo) is set aside without it.
    text += scrub(`{"at":${JSON.stringify(at)},"source":${JSON.stringify(source)},"reason":${JSON.stringify(r.reason)},"record":${rec}}`) + '\n'
  }
  if (n === 0) return
  let fh: FileHandle | undefined
  try {
    fh = await openAppend(path)
    await writeAll(fh, Buffer.from(text, 'utf8'))
    await fh.sync()
  } catch (err) {
    throw sinkError(path, err)
  } finally {
    await fh?.close()
  }
  stats.rejected += n
}
