/**
 * Bounds on what a server can make us hold or print: a response body read with a byte cap (stops reading, and
 * destroys the stream, the moment the cap is passed), and server text made fit for a log line (control and bidi
 * characters removed, whitespace collapsed, a length cap). Pure helpers; the client decides what each bound means.
 */
import type { Readable } from 'node:stream'

/**
 * What `readBounded` read: the body's bytes (only its first `limit` when `over`: it passed the cap) and the bytes
 * received. Bytes, not text: a page's text decoded here and returned stayed reachable after its last use, through the
 * finished exchange, for the young generation's next collections, which copied most bodies' text once or twice
 * (measured with undici alone; bench/RESULTS.md). The caller decodes it where it parses it.
 */
export interface BoundedBody {
  raw: Buffer
  over: boolean
  bytes: number
}

/**
 * Reads `body` up to `limit` bytes; past that it stops at once (nothing more is buffered) and destroys the stream, so
 * the connection is dropped rather than drained. Errors of the stream (timeouts, resets) are thrown.
 */
export async function readBounded(body: Readable, limit: number): Promise<BoundedBody> {
  const chunks: Buffer[] = []
  let bytes = 0
  for await (const chunk of body) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer)
    const kept = bytes
    bytes += buf.length
    if (bytes > limit) {
      body.destroy()
      chunks.push(buf.subarray(0, limit - kept))
      return { over: true, raw: Buffer.concat(chunks, limit), bytes }
    }
    chunks.push(buf)
  }
  // One chunk (a page usually is): kept as it is, without a copy.
  return { over: false, raw: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, bytes), bytes }
}

/** Longest server text quoted in a message. */
export const MAX_SERVER_TEXT = 300

// C0/C1 controls and DEL, and the bidi controls that could reorder a terminal line (U+202A–U+202E, U+2066–U+2069).
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]+/g

/** Server text fit for one log line: unprintable characters become spaces, runs of spaces one, at most `max` characters (then "…"). */
export function serverText(text: string, max = MAX_SERVER_TEXT): string {
  // Cut first (a 5 MB message is not scanned whole), with room for what the clean-up removes.
  const clean = text.slice(0, max * 4).replace(UNPRINTABLE, ' ').replace(/\s+/g, ' ').trim()
  if (clean.length <= max && text.length <= max * 4) return clean
  return `${[...clean].slice(0, max).join('')}…`
}
