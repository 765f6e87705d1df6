/**
 * The archive's two line readers, both bounded by a maximum line length: forward (split2 over a read stream: verify,
 * the backfill merge) and backward from the end (the checkpoint, the dedupe seed, tail repair). A line longer than the
 * bound is not a record (binary junk, a lost newline): it is reported as such and never buffered whole, so reading
 * costs time linear in what is read and memory bounded by the bound, whatever the file.
 */
import { createReadStream } from 'node:fs'
import type { FileHandle } from 'node:fs/promises'
import { openRead } from '../atomic.js'
import split2 from 'split2'
import { identityKey, isObject, type InstantOf } from '../messages.js'
import type { Micros } from '../time.js'

/** Longest line the readers buffer: records are a few KB; a longer "line" is damage. */
export const MAX_LINE = 1024 * 1024

export interface ForwardLine {
  /** The line without its newline; undefined when it is longer than the bound (the rest of the file is not read). */
  text: string | undefined
  /** 1-based line number. */
  n: number
}

/**
 * Lines of a file (a path, or an open handle the caller closes) from its start; the last one may lack its newline.
 * A line over `maxLine` ends the reading.
 */
export async function* linesForward(source: string | FileHandle, maxLine = MAX_LINE): AsyncGenerator<ForwardLine> {
  const input = typeof source === 'string' ? createReadStream(source) : source.createReadStream({ start: 0, autoClose: false })
  const lines = split2('\n', { maxLength: maxLine })
  input.on('error', (err) => lines.destroy(err))
  input.pipe(lines)
  let n = 0
  try {
    for await (const text of lines as AsyncIterable<string>) yield { text, n: ++n }
  } catch (err) {
    if (!/maximum buffer reached/.test((err as Error).message)) throw err
    yield { text: undefined, n: n + 1 }
  } finally {
    input.destroy()
    lines.destroy()
  }
}

export interface BackwardLine {
  /** The line without its newline; undefined when it is longer than the bound. */
  text: string | undefined
  /** Byte offset of the line's first byte. */
  offset: number
  /** Length of the line in bytes (without its newline). */
  bytes: number
}

/**
 * Lines of a file from `end` back to its start, a block at a time. A line over `maxLine` is yielded without its text,
 * and scanning past it only looks for the previous newline: linear in the bytes read.
 */
/** What `linesBackward` reads from: a file handle, or bytes already in hand served the same way. */
export interface PositionalRead {
  read(buf: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }>
}

export async function* linesBackward(fh: PositionalRead, end: number, maxLine = MAX_LINE, blockSize = 64 * 1024): AsyncGenerator<BackwardLine> {
  let pos = end
  let carry: Buffer = Buffer.alloc(0)
  let long = -1 // while skipping an over-long line: the offset just past its end
  while (pos > 0) {
    const start = Math.max(0, pos - blockSize)
    const buf = Buffer.allocUnsafe(pos - start)
    const { bytesRead } = await fh.read(buf, 0, buf.length, start)
    if (bytesRead !== buf.length) throw new Error(`short read at ${start}`)
    pos = start
    const chunk = carry.length > 0 ? Buffer.concat([buf, carry]) : buf
    let stop = chunk.length
    for (let i = chunk.lastIndexOf(0x0a); i !== -1; i = i === 0 ? -1 : chunk.lastIndexOf(0x0a, i - 1)) {
      if (long >= 0) {
        yield { text: undefined, offset: start + i + 1, bytes: long - (start + i + 1) }
        long = -1
      } else if (i + 1 < stop) yield { text: chunk.toString('utf8', i + 1, stop), offset: start + i + 1, bytes: stop - i - 1 }
      stop = i
    }
    if (long >= 0) carry = Buffer.alloc(0)
    else if (stop > maxLine) {
      long = start + stop // this line has no start in sight yet and is already too long: stop keeping its bytes
      carry = Buffer.alloc(0)
    } else carry = Buffer.from(chunk.subarray(0, stop))
  }
  if (long >= 0) yield { text: undefined, offset: 0, bytes: long }
  else if (carry.length > 0) yield { text: carry.toString('utf8'), offset: 0, bytes: carry.length }
}

/** Instant and parsed content of an archive line; undefined when it is not a record (bad JSON, no timestamp, too long). */
export function lineInstant(instantOf: InstantOf, text: string | undefined): { us: Micros; data: Record<string, unknown> } | undefined {
  if (text === undefined) return undefined
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch {
    return undefined
  }
  if (!isObject(data)) return undefined
  const us = instantOf(data)
  return us === undefined ? undefined : { us, data }
}

/** A line of a day file read forward: its text, and its instant and canonical key when it is a record. */
export interface DayLine {
  text: string
  us?: Micros
  key?: string
}

/**
 * A day file read forward as records, for what walks it beside the API's records (the backfill merge, reconcile's
 * comparison): a missing file holds nothing; `newest` is the newest instant read so far; a line over MAX_LINE ends
 * the reading with an error naming the file (it is no record: verify's business). Blank lines are skipped.
 */
export class DayReader {
  newest = -Infinity
  done = false
  #lines: AsyncGenerator<ForwardLine> | undefined

  private constructor(readonly path: string, readonly fh: FileHandle | undefined, private readonly instantOf: InstantOf) {
    this.#lines = fh === undefined ? undefined : linesForward(fh)
    this.done = fh === undefined
  }

  static async open(path: string, instantOf: InstantOf): Promise<DayReader> {
    try {
      return new DayReader(path, await openRead(path), instantOf)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
      return new DayReader(path, undefined, instantOf)
    }
  }

  /** The next non-blank line, undefined at the end of the file. */
  async next(): Promise<DayLine | undefined> {
    for (;;) {
      const r = this.done ? undefined : await (this.#lines as AsyncGenerator<ForwardLine>).next()
      if (r === undefined || r.done === true) {
        this.done = true
        return undefined
      }
      const text = r.value.text
      if (text === undefined) throw Object.assign(new Error(`line ${r.value.n} is longer than ${MAX_LINE} bytes (not a record: run verify)`), { path: this.path })
      if (text.trim() === '') continue
      const rec = lineInstant(this.instantOf, text)
      if (rec === undefined) return { text }
      if (rec.us > this.newest) this.newest = rec.us
      return { text, us: rec.us, key: identityKey(rec.data, text) }
    }
  }

  /** Releases the file; never throws. */
  async close(): Promise<void> {
    this.done = true
    await this.#lines?.return(undefined).catch(() => undefined)
    await this.fh?.close().catch(() => undefined)
  }
}
