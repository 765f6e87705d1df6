/**
 * Record spans: where a record lies in its page body (found by sources/walk.ts), its text, and its text on one line.
 * Lets the archive keep the API's bytes (`12345678901234567890`, `1.0`, `\u0041`, duplicate keys) instead of
 * re-encoding parsed values, and keep them as bytes: a page's records point into its body.
 */

/** One element of the records array: bytes [start, end) of the body, how deep it nests (an object of scalars: 1), and whether a line break stands between its tokens. */
export interface Span {
  start: number
  end: number
  depth: number
  breaks: boolean
}

/** The records of one page as the API sent them: the body's bytes (valid UTF-8) and one span per record. */
export interface Texts {
  body: Buffer
  spans: Span[]
  /** The body holds U+FFFD somewhere (as its UTF-8 bytes): only then are the records' own bytes searched for it. */
  replacement: boolean
}

/** U+FFFD in UTF-8: what a lossy decoding puts where the bytes were not UTF-8. */
export const REPLACEMENT = Buffer.from('\uFFFD', 'utf8')

const isWs = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09

/** The text of one span, decoded. */
export function spanText(body: Buffer, span: Span): string {
  return body.toString('utf8', span.start, span.end)
}

/** Index just past the string starting at `i` (a '"') of `s`. */
function endOfStringText(s: string, i: number): number {
  for (let j = i + 1; ; ) {
    const q = s.indexOf('"', j)
    if (q < 0) throw new SyntaxError('unterminated string')
    let k = q - 1
    while (s.charCodeAt(k) === 0x5c) k--
    if ((q - 1 - k) % 2 === 0) return q + 1
    j = q + 1
  }
}

/**
 * The text of one JSON value on one line: whitespace between tokens that holds a line break is removed, everything
 * else is kept byte for byte (strings never hold a raw line break in valid JSON). Returns the text itself when it has
 * no line break.
 */
export function oneLine(text: string): string {
  if (!/[\n\r]/.test(text)) return text
  let out = ''
  for (let i = 0; i < text.length; ) {
    const c = text.charCodeAt(i)
    if (c === 0x22) {
      const e = endOfStringText(text, i)
      out += text.slice(i, e)
      i = e
    } else {
      if (!isWs(c)) out += text[i]
      i++
    }
  }
  return out
}
