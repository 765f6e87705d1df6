/** Lines to bytes, shared by the sinks. */
import type { AuditRecord } from '../messages.js'

/** A buffer this much larger than the last window needed is given back (a burst's window does not pin its size). */
const SHRINK_FACTOR = 4
/** The smallest buffer an encoder keeps. */
const MIN_BYTES = 64 * 1024

/** One line to write: `out` when set (another line format, a tag, a line of an existing file), else the record's own bytes. */
export type Line = Pick<AuditRecord, 'buf' | 'start' | 'end' | 'out'> | { out: string }

/**
 * Each line (`out`, else the record's own bytes, as the API sent them) followed by a newline, in one buffer: a record's
 * bytes are copied as they are, a string is encoded straight into it (no joined string in between, which for
 * non-Latin-1 text costs a two-byte copy of everything). One encoder per sink reuses its buffer from window to window,
 * so the bytes returned are only valid until the next `encode`: a file sink's write has copied them by the time it
 * resolves; a stream may keep a chunk past its callback, so the stdout sink writes a copy of the exact size. (A fresh
 * buffer per window, twice the size of its text, left megabytes of dead buffers outside V8's heap between
 * collections: bench/RESULTS.md.)
 */
export class LineEncoder {
  #buf: Buffer = Buffer.allocUnsafeSlow(MIN_BYTES)

  /** The lines of `lines`, valid until the next call. */
  encode(lines: readonly Line[]): Buffer {
    let size = lines.length
    // A string is sized for two bytes a character, the most Cyrillic text needs; the buffer grows when one needs more.
    for (const r of lines) size += r.out === undefined ? (r as AuditRecord).end - (r as AuditRecord).start : 2 * r.out.length
    this.#fit(size)
    let off = 0
    for (const r of lines) {
      const s = r.out
      if (s === undefined) {
        const { buf, start, end } = r as AuditRecord
        this.#room(off, end - start + 1)
        off += buf.copy(this.#buf, off, start, end)
      } else {
        if (this.#buf.length - off < 3 * s.length + 1) this.#room(off, Buffer.byteLength(s) + 1)
        off += this.#buf.write(s, off)
      }
      this.#buf[off++] = 0x0a
    }
    return this.#buf.subarray(0, off)
  }

  /** Makes the buffer hold `bytes`: grown to fit, or given back when it is far larger than needed. */
  #fit(bytes: number): void {
    const size = this.#buf.length
    if (size >= bytes && size <= Math.max(MIN_BYTES, SHRINK_FACTOR * bytes)) return
    this.#buf = Buffer.allocUnsafeSlow(Math.max(MIN_BYTES, bytes))
  }

  /** Makes room for `need` more bytes after the first `off` (kept). */
  #room(off: number, need: number): void {
    const buf = this.#buf
    if (buf.length - off >= need) return
    const bigger = Buffer.allocUnsafeSlow(Math.max(2 * buf.length, off + need))
    buf.copy(bigger, 0, 0, off)
    this.#buf = bigger
  }
}
