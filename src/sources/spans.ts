/**
 * Record spans, pure. In: a page body the caller's JSON.parse accepted (as its UTF-8 bytes), and the name of its
 * records array. Out: where each element of that array lies in the body (the last occurrence of the key wins, as in
 * JSON.parse), with its nesting depth and whether a line break stands between its tokens; undefined when the body is
 * no object holding such an array. One forward pass over the bytes, no recursion: a record nested 5,000 deep costs no
 * stack. JSON's structural characters are ASCII, and no byte of a multi-byte UTF-8 sequence is ASCII, so the bytes are
 * scanned as they are. Lets the archive keep the API's bytes (`12345678901234567890`, `1.0`, `\u0041`, duplicate keys)
 * instead of re-encoding parsed values, and keep them as bytes: a page's records point into its body, so the decoded
 * body string becomes garbage as soon as it is parsed (bench/RESULTS.md).
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
const isBreak = (c: number): boolean => c === 0x0a || c === 0x0d
// The engine's own search (a Buffer's indexOf goes through Node's argument handling first: several times slower per call).
const indexOf = Uint8Array.prototype.indexOf

/** How far a string is scanned byte by byte before the engine's search takes over (most keys and values are shorter). */
const SHORT = 128

/** Index just past the string starting at `i` (a '"'). */
function endOfString(b: Uint8Array, i: number): number {
  // Short strings, byte by byte: a backslash escapes the byte after it (in `\uXXXX` the hex digits are no quote).
  const stop = Math.min(b.length, i + SHORT)
  let j = i + 1
  while (j < stop) {
    const c = b[j]
    if (c === 0x22) return j + 1
    j += c === 0x5c ? 2 : 1
  }
  if (j >= b.length) throw new SyntaxError('unterminated string')
  // A long one: search for each quote, and count the backslashes before it (an even run: the quote ends the string).
  for (;;) {
    const q = indexOf.call(b, 0x22, j)
    if (q < 0) throw new SyntaxError('unterminated string')
    let k = q - 1
    while (k > i && b[k] === 0x5c) k--
    if ((q - 1 - k) % 2 === 0) return q + 1
    j = q + 1
  }
}

/** Index just past the value starting at `i`, its depth, and whether a line break stands between its tokens. */
function endOfValue(b: Uint8Array, i: number): { end: number; depth: number; breaks: boolean } {
  const c = b[i]
  if (c === 0x22) return { end: endOfString(b, i), depth: 0, breaks: false }
  if (c !== 0x7b && c !== 0x5b) {
    let j = i
    while (j < b.length) {
      const d = b[j]
      if (d === 0x2c || d === 0x7d || d === 0x5d || isWs(d)) break
      j++
    }
    return { end: j, depth: 0, breaks: false }
  }
  let depth = 0
  let max = 0
  let breaks = false
  // Every byte outside strings passes here: a raw line break, which valid JSON holds only between tokens, is seen.
  for (let j = i; j < b.length; j++) {
    const d = b[j]
    if (d === 0x22) j = endOfString(b, j) - 1
    else if (d === 0x7b || d === 0x5b) max = Math.max(max, ++depth)
    else if ((d === 0x7d || d === 0x5d) && --depth === 0) return { end: j + 1, depth: max, breaks }
    else if (isBreak(d)) breaks = true
  }
  throw new SyntaxError('unterminated value')
}

function skipWs(b: Uint8Array, i: number): number {
  while (i < b.length && isWs(b[i])) i++
  return i
}

/** The elements of the array starting at `i` (a '['), and the index just past it. */
function arraySpans(b: Uint8Array, i: number): { spans: Span[]; end: number } {
  const spans: Span[] = []
  i = skipWs(b, i + 1)
  if (b[i] === 0x5d) return { spans, end: i + 1 }
  for (;;) {
    const v = endOfValue(b, i)
    spans.push({ start: i, end: v.end, depth: v.depth, breaks: v.breaks })
    i = skipWs(b, v.end)
    const c = b[i]
    if (c === 0x5d) return { spans, end: i + 1 }
    if (c !== 0x2c) throw new SyntaxError(`expected , or ] at ${i}`)
    i = skipWs(b, i + 1)
  }
}

/** The spans of `body[key]`'s elements; undefined when `body` is no object or `key` holds no array. */
export function recordSpans(body: Buffer, key: string): Span[] | undefined {
  try {
    let i = skipWs(body, 0)
    if (body[i] !== 0x7b) return undefined
    i = skipWs(body, i + 1)
    let found: Span[] | undefined
    while (body[i] !== 0x7d) {
      const k = endOfString(body, i)
      const name = JSON.parse(body.toString('utf8', i, k)) as string
      i = skipWs(body, skipWs(body, k) + 1) // past the ':'
      if (name === key && body[i] === 0x5b) {
        const a = arraySpans(body, i)
        found = a.spans
        i = a.end
      } else {
        if (name === key) found = undefined // the last occurrence is no array
        i = endOfValue(body, i).end
      }
      i = skipWs(body, i)
      if (body[i] === 0x2c) i = skipWs(body, i + 1)
    }
    return found
  } catch {
    return undefined // not the JSON the caller parsed: it falls back to re-encoding, counted
  }
}

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
