/** Lines to bytes, shared by the sinks. */
import type { AuditRecord } from '../messages.js'

/** A buffer this much larger than the last window needed is given back (a burst's window does not pin its size). */
const SHRINK_FACTOR = 4
/** The smallest buffer an encoder keeps. */
const MIN_BYTES = 64 * 1024

/**
 * Each record's output line (`out`, else the API's own text) as UTF-8 followed by a newline, in one buffer: each line
 * is encoded straight into it (no joined string in between, which for non-Latin-1 text costs a two-byte copy of
 * everything). One encoder per sink reuses its buffer from window to window, so the bytes returned are only valid
 * until the next `encode`: a file sink's write has copied them by the time it resolves; a stream may keep a chunk past
 * its callback, so the stdout sink writes a copy of the exact size. (A fresh buffer per window, twice the size of its
 * text, left megabytes of dead buffers outside V8's heap between collections: bench/RESULTS.md.)
 */
export class LineEncoder {
  #buf: Buffer = Buffer.allocUnsafeSlow(MIN_BYTES)

  /** The lines of `records`, valid until the next call. */
  encode(records: readonly Pick<AuditRecord, 'line' | 'out'>[]): Buffer {
    let chars = 0
    for (const r of records) chars += (r.out ?? r.line).length
    // Sized for two bytes a character, the most Cyrillic text needs; grown when a line needs more.
    this.#fit(2 * chars + records.length)
    let buf = this.#buf
    let off = 0
    for (const r of records) {
      const l = r.out ?? r.line
      if (buf.length - off < 3 * l.length + 1) {
        const need = Buffer.byteLength(l) + 1
        if (buf.length - off < need) {
          const bigger = Buffer.allocUnsafeSlow(Math.max(2 * buf.length, off + need))
          buf.copy(bigger, 0, 0, off)
          buf = this.#buf = bigger
        }
      }
      off += buf.write(l, off)
      buf[off++] = 0x0a
    }
    return buf.subarray(0, off)
  }

  /** Makes the buffer hold `bytes`: grown to fit, or given back when it is far larger than needed. */
  #fit(bytes: number): void {
    const size = this.#buf.length
    if (size >= bytes && size <= Math.max(MIN_BYTES, SHRINK_FACTOR * bytes)) return
    this.#buf = Buffer.allocUnsafeSlow(Math.max(MIN_BYTES, bytes))
  }
}
