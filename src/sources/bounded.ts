/**
 * Bounds on what a server can make us hold or print: what a body read with a byte cap holds (the read itself is
 * sources/http.ts: it stops, and drops the connection, the moment the cap is passed), and server text made fit for a
 * log line (control and bidi characters removed, whitespace collapsed, a length cap). Pure helpers; the client decides
 * what each bound means.
 */
/**
 * What a response's body read within its cap holds (sources/http.ts): the body's bytes (when `over`, it passed the cap:
 * only as many as the cap) and the bytes received. Bytes, not text: a page's text decoded where it was read and
 * returned stayed reachable after its last use, through the finished exchange, for the young generation's next
 * collections, which copied most bodies' text once or twice (measured with undici alone; bench/RESULTS.md). The caller
 * decodes it where it parses it.
 */
export interface BoundedBody {
  raw: Buffer
  over: boolean
  bytes: number
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
