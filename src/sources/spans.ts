/**
 * Record spans, pure. In: a page body the caller's JSON.parse accepted, and the name of its records array. Out: the
 * exact text of each element of that array (the last occurrence of the key wins, as in JSON.parse) with its nesting
 * depth; undefined when the body is no object holding such an array. One forward pass, no recursion: a record nested
 * 5,000 deep costs no stack. Lets the archive keep the API's bytes (`12345678901234567890`, `1.0`, `\u0041`,
 * duplicate keys) instead of re-encoding parsed values.
 */

/** One element of the records array: its text as sent, and how deep it nests (an object of scalars: 1). */
export interface Span {
  text: string
  depth: number
}

const isWs = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09

/** Index just past the string starting at `i` (a '"'). */
function endOfString(s: string, i: number): number {
  for (let j = i + 1; ; ) {
    const q = s.indexOf('"', j)
    if (q < 0) throw new SyntaxError('unterminated string')
    let k = q - 1
    while (s.charCodeAt(k) === 0x5c) k--
    if ((q - 1 - k) % 2 === 0) return q + 1 // an even run of backslashes: the quote is not escaped
    j = q + 1
  }
}

/** Index just past the value starting at `i`, and its depth. */
function endOfValue(s: string, i: number): { end: number; depth: number } {
  const c = s.charCodeAt(i)
  if (c === 0x22) return { end: endOfString(s, i), depth: 0 }
  if (c !== 0x7b && c !== 0x5b) {
    let j = i
    while (j < s.length) {
      const d = s.charCodeAt(j)
      if (d === 0x2c || d === 0x7d || d === 0x5d || isWs(d)) break
      j++
    }
    return { end: j, depth: 0 }
  }
  let depth = 0
  let max = 0
  for (let j = i; j < s.length; j++) {
    const d = s.charCodeAt(j)
    if (d === 0x22) j = endOfString(s, j) - 1
    else if (d === 0x7b || d === 0x5b) max = Math.max(max, ++depth)
    else if ((d === 0x7d || d === 0x5d) && --depth === 0) return { end: j + 1, depth: max }
  }
  throw new SyntaxError('unterminated value')
}

function skipWs(s: string, i: number): number {
  while (i < s.length && isWs(s.charCodeAt(i))) i++
  return i
}

/** The elements of the array starting at `i` (a '['), and the index just past it. */
function arraySpans(s: string, i: number): { spans: Span[]; end: number } {
  const spans: Span[] = []
  i = skipWs(s, i + 1)
  if (s.charCodeAt(i) === 0x5d) return { spans, end: i + 1 }
  for (;;) {
    const v = endOfValue(s, i)
    spans.push({ text: s.slice(i, v.end), depth: v.depth })
    i = skipWs(s, v.end)
    const c = s.charCodeAt(i)
    if (c === 0x5d) return { spans, end: i + 1 }
    if (c !== 0x2c) throw new SyntaxError(`expected , or ] at ${i}`)
    i = skipWs(s, i + 1)
  }
}

/** The spans of `body[key]`'s elements; undefined when `body` is no object or `key` holds no array. */
export function recordSpans(body: string, key: string): Span[] | undefined {
  try {
    let i = skipWs(body, 0)
    if (body.charCodeAt(i) !== 0x7b) return undefined
    i = skipWs(body, i + 1)
    let found: Span[] | undefined
    while (body.charCodeAt(i) !== 0x7d) {
      const k = endOfString(body, i)
      const name = JSON.parse(body.slice(i, k)) as string
      i = skipWs(body, skipWs(body, k) + 1) // past the ':'
      if (name === key && body.charCodeAt(i) === 0x5b) {
        const a = arraySpans(body, i)
        found = a.spans
        i = a.end
      } else {
        if (name === key) found = undefined // the last occurrence is no array
        i = endOfValue(body, i).end
      }
      i = skipWs(body, i)
      if (body.charCodeAt(i) === 0x2c) i = skipWs(body, i + 1)
    }
    return found
  } catch {
    return undefined // not the JSON the caller parsed: it falls back to re-encoding, counted
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
      const e = endOfString(text, i)
      out += text.slice(i, e)
      i = e
    } else {
      if (!isWs(c)) out += text[i]
      i++
    }
  }
  return out
}
