/** Lines to bytes, shared by the sinks. */
import type { AuditRecord } from '../messages.js'

/**
 * Each record's output line (`out`, else the API's own text) as UTF-8 followed by a newline, in one buffer: each line
 * is encoded straight into it (no joined string in between, which for non-Latin-1 text costs a two-byte copy of
 * everything). Sized for two bytes a character, the most Cyrillic text needs; grows when a line needs more.
 */
export function encodeLines(records: readonly Pick<AuditRecord, "line" | "out">[]): Buffer {
  let chars = 0
  for (const r of records) chars += (r.out ?? r.line).length
  let buf = Buffer.allocUnsafe(2 * chars + records.length)
  let off = 0
  for (const r of records) {
    const l = r.out ?? r.line
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
