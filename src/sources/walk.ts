/**
 * Page walk, pure. In: a page body as UTF-8 bytes, the key of its records array and the path of a record's timestamp
 * field. Out: the body checked as JSON with JSON.parse's own grammar (RFC 8259: no trailing commas, no comments, no
 * leading zeros, no raw control characters in strings, only the escapes JSON defines), where each record's bytes lie,
 * what each one is (an object or not, its nesting depth, a line break between its tokens, the text of its timestamp
 * field), and the body's text with the records taken out (the page's other fields, for JSON.parse); undefined when the
 * body is not JSON, not an object, or its last records key holds no array (the caller then parses it whole: the same
 * verdict, slower). One forward pass over the bytes, no recursion (a record nested 5,000 deep costs no stack), and no
 * value is built: a page's records stay bytes of its body until something needs one parsed (a reject, a filter check),
 * which is what makes the hot path cheaper than JSON.parse (bench/RESULTS.md). JSON's structural characters are
 * ASCII, and no byte of a multi-byte UTF-8 sequence is ASCII, so the bytes are scanned as they are; whether they are
 * UTF-8 at all is the caller's check (`isUtf8`). Duplicate keys: the last occurrence wins, as in JSON.parse.
 */
import type { Span } from './spans.js'

/** One record of a walked page: its span, whether it is a JSON object, and its timestamp field's text. */
export interface WalkedRecord extends Span {
  object: boolean
  /** The text of the record's timestamp field (its last occurrence), decoded; undefined when absent or not a string. */
  stamp: string | undefined
}

/** A walked page: its records, and the body's text with each records array replaced by `[]`. */
export interface Walked {
  records: WalkedRecord[]
  rest: string
}

class NotJson extends Error {}
const NOT_JSON = new NotJson('not JSON') // thrown without a stack: the caller only needs to know the walk gave up

/** Set by `skip` when the whitespace it skipped held a line break; by `endOfString` when the string held an escape. */
let sawBreak = false
let sawEscape = false

/** Index of the first byte at or after `i` that is no JSON whitespace. */
function skip(b: Buffer, i: number): number {
  for (;;) {
    const c = b[i]
    if (c === 0x20 || c === 0x09) i++
    else if (c === 0x0a || c === 0x0d) {
      sawBreak = true
      i++
    } else return i
  }
}

const isHex = (h: number): boolean => (h >= 0x30 && h <= 0x39) || (h >= 0x41 && h <= 0x46) || (h >= 0x61 && h <= 0x66)
const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39

/** What a byte is inside a JSON string: 0 most bytes, else the end of the string, an escape or a raw control character. */
const IN_STRING = new Uint8Array(256)
const QUOTE = 1
const BACKSLASH = 2
const CONTROL = 3
IN_STRING.fill(CONTROL, 0, 0x20)
IN_STRING[0x22] = QUOTE
IN_STRING[0x5c] = BACKSLASH

/**
 * Index just past the string starting at `i` (a '"'): raw control characters and unknown escapes are not JSON. Most
 * bytes of a string are none of those three, and one table look-up a byte tells so (a chain of comparisons took twice
 * as long on the emulator's pages, whose text mixes ASCII with Cyrillic).
 */
function endOfString(b: Buffer, i: number): number {
  sawEscape = false
  const n = b.length
  for (let j = i + 1; j < n; j++) {
    const k = IN_STRING[b[j]]
    if (k === 0) continue
    if (k === QUOTE) return j + 1
    if (k === CONTROL) throw NOT_JSON
    sawEscape = true // k === BACKSLASH: an escape
    const e = b[++j]
    if (e === 0x75) {
      if (!(isHex(b[j + 1]) && isHex(b[j + 2]) && isHex(b[j + 3]) && isHex(b[j + 4]))) throw NOT_JSON
      j += 4
    } else if (!(e === 0x22 || e === 0x5c || e === 0x2f || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74)) throw NOT_JSON
  }
  throw NOT_JSON
}

/** Index just past the number starting at `i`: `-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?`. */
function endOfNumber(b: Buffer, i: number): number {
  let j = i
  if (b[j] === 0x2d) j++
  if (b[j] === 0x30) j++
  else if (b[j] >= 0x31 && b[j] <= 0x39) while (isDigit(b[j])) j++
  else throw NOT_JSON
  if (b[j] === 0x2e) {
    if (!isDigit(b[++j])) throw NOT_JSON
    while (isDigit(b[j])) j++
  }
  if (b[j] === 0x65 || b[j] === 0x45) {
    j++
    if (b[j] === 0x2b || b[j] === 0x2d) j++
    if (!isDigit(b[j])) throw NOT_JSON
    while (isDigit(b[j])) j++
  }
  return j
}

/** Index just past the literal `word` (true, false, null) at `i`. */
function endOfWord(b: Buffer, i: number, word: Buffer): number {
  for (let k = 0; k < word.length; k++) if (b[i + k] !== word[k]) throw NOT_JSON
  return i + word.length
}

const TRUE = Buffer.from('true')
const FALSE = Buffer.from('false')
const NULL = Buffer.from('null')

/** A key of the timestamp path, as bytes and as text. */
interface PathKey {
  bytes: Buffer
  text: string
}

/** Whether the key string [s, e) (quotes included; `escaped`: it holds an escape) is `key`. */
function isKey(b: Buffer, s: number, e: number, key: PathKey, escaped: boolean): boolean {
  if (escaped) return (JSON.parse(b.toString('utf8', s, e)) as string) === key.text
  const k = key.bytes
  if (e - s - 2 !== k.length) return false
  for (let x = 0; x < k.length; x++) if (b[s + 1 + x] !== k[x]) return false
  return true
}

/** The text of the string [s, e), quotes included. */
function stringText(b: Buffer, s: number, e: number, escaped: boolean): string {
  return escaped ? (JSON.parse(b.toString('utf8', s, e)) as string) : b.toString('utf8', s + 1, e - 1)
}

const OBJECT = 1
const ARRAY = 2
/** What the value about to be walked is to the timestamp path: nothing, an object along it, or its last field. */
const OFF = 0
const NODE = 1
const LEAF = 2

/** What `walkValue` found besides the value's end. */
interface ValueInfo {
  depth: number
  breaks: boolean
  stamp: string | undefined
}

/**
 * Containers open in `walkValue`, innermost last: OBJECT or ARRAY, plus ALONG for an object that lies along the path.
 * A byte each, outside V8's heap, kept between calls and grown by doubling: at most a byte per byte of the body (a
 * hostile body of 32 MiB of '[' costs 32 MiB here, where an array of numbers would take 8 bytes a level of the heap).
 */
let open = new Uint8Array(1024)
const ALONG = 4

/** The role of the value after the key `readKey` read last. */
let keyRole = OFF
/** The text of the path's leaf in the value `walkValue` walks (its last occurrence). */
let leaf: string | undefined

/** `i`, or the index past the whitespace at `i`. */
function past(b: Buffer, i: number): number {
  const c = b[i]
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09 ? skip(b, i) : i
}

/**
 * Reads `"key" :` at `i` in the object open at `level` (the record itself: 0); returns its value's index and sets
 * `keyRole`. A key along the path forgets the leaf read so far: a later occurrence replaces the earlier one.
 */
function readKey(b: Buffer, i: number, path: readonly PathKey[], level: number): number {
  if (b[i] !== 0x22) throw NOT_JSON
  const s = i
  i = endOfString(b, i)
  keyRole = (open[level] & ALONG) !== 0 && level < path.length && isKey(b, s, i, path[level], sawEscape) ? (level === path.length - 1 ? LEAF : NODE) : OFF
  if (keyRole !== OFF) leaf = undefined
  i = past(b, i)
  if (b[i] !== 0x3a) throw NOT_JSON
  return past(b, i + 1)
}

/**
 * Walks the value at `i` (no whitespace before it); returns the index just past it, and fills `info` (the path's
 * leaf, when `path` has keys). Explicit stack: no recursion.
 */
function walkValue(b: Buffer, i: number, path: readonly PathKey[], info: ValueInfo): number {
  sawBreak = false
  leaf = undefined
  let sp = 0 // containers open
  let depth = 0
  let role = path.length > 0 ? NODE : OFF
  for (;;) {
    // One value at i.
    const c = b[i]
    if (c === 0x22) {
      const s = i
      i = endOfString(b, i)
      if (role === LEAF) leaf = stringText(b, s, i, sawEscape)
    } else if (c === 0x7b || c === 0x5b) {
      const isObj = c === 0x7b
      if (sp === open.length) {
        const grown = new Uint8Array(2 * sp)
        grown.set(open)
        open = grown
      }
      open[sp++] = isObj ? (role === NODE ? OBJECT | ALONG : OBJECT) : ARRAY
      if (sp > depth) depth = sp
      i = skip(b, i + 1)
      if (b[i] === (isObj ? 0x7d : 0x5d)) {
        i++
        sp--
      } else {
        if (isObj) i = readKey(b, i, path, sp - 1)
        role = isObj ? keyRole : OFF
        continue
      }
    } else if (c === 0x74) i = endOfWord(b, i, TRUE)
    else if (c === 0x66) i = endOfWord(b, i, FALSE)
    else if (c === 0x6e) i = endOfWord(b, i, NULL)
    else i = endOfNumber(b, i)
    // Past a value: close what it ends, step to the next one.
    for (;;) {
      if (sp === 0) {
        info.depth = depth
        info.breaks = sawBreak
        info.stamp = leaf
        return i
      }
      i = past(b, i)
      const d = b[i]
      const isObj = (open[sp - 1] & ~ALONG) === OBJECT
      if (d === 0x2c) {
        i = past(b, i + 1)
        if (isObj) i = readKey(b, i, path, sp - 1)
        role = isObj ? keyRole : OFF
        break
      }
      if (d !== (isObj ? 0x7d : 0x5d)) throw NOT_JSON
      i++
      sp--
    }
  }
}

/** The records of the array at `i` (a '['), and the index just past it. */
function walkRecords(b: Buffer, i: number, path: readonly PathKey[]): { records: WalkedRecord[]; end: number } {
  const records: WalkedRecord[] = []
  const info: ValueInfo = { depth: 0, breaks: false, stamp: undefined }
  i = skip(b, i + 1)
  if (b[i] === 0x5d) return { records, end: i + 1 }
  for (;;) {
    const start = i
    i = walkValue(b, i, path, info)
    records.push({ start, end: i, depth: info.depth, breaks: info.breaks, object: b[start] === 0x7b, stamp: info.stamp })
    i = skip(b, i)
    if (b[i] === 0x5d) return { records, end: i + 1 }
    if (b[i] !== 0x2c) throw NOT_JSON
    i = skip(b, i + 1)
  }
}

const NO_PATH: readonly PathKey[] = []
/** Keys as bytes, by text: an endpoint's few keys are encoded once, not on every page. */
const keys = new Map<string, PathKey>()
function keyOf(text: string): PathKey {
  let k = keys.get(text)
  if (k === undefined) keys.set(text, (k = { bytes: Buffer.from(text, 'utf8'), text }))
  return k
}
const paths = new WeakMap<readonly string[], readonly PathKey[]>()

/** The walk of a page body (see the module's comment); `path`: the keys that lead to a record's timestamp field. */
export function walkPage(body: Buffer, key: string, path: readonly string[]): Walked | undefined {
  let pathKeys = paths.get(path)
  if (pathKeys === undefined) paths.set(path, (pathKeys = path.map(keyOf)))
  const records = keyOf(key)
  try {
    let i = skip(body, 0)
    if (body[i] !== 0x7b) return undefined
    i = skip(body, i + 1)
    let found: WalkedRecord[] | undefined
    const arrays: [number, number][] = [] // every records array (a duplicated key's too): taken out of `rest`
    if (body[i] === 0x7d) i++
    else {
      for (;;) {
        if (body[i] !== 0x22) throw NOT_JSON
        const s = i
        i = endOfString(body, i)
        const named = isKey(body, s, i, records, sawEscape)
        i = skip(body, i)
        if (body[i] !== 0x3a) throw NOT_JSON
        i = skip(body, i + 1)
        if (named && body[i] === 0x5b) {
          const a = walkRecords(body, i, pathKeys)
          arrays.push([i, a.end])
          found = a.records
          i = a.end
        } else {
          if (named) found = undefined // the last occurrence is no array
          i = walkValue(body, i, NO_PATH, { depth: 0, breaks: false, stamp: undefined })
        }
        i = skip(body, i)
        if (body[i] === 0x2c) i = skip(body, i + 1)
        else if (body[i] === 0x7d) {
          i++
          break
        } else throw NOT_JSON
      }
    }
    if (skip(body, i) !== body.length || found === undefined) return undefined
    let rest = ''
    let from = 0
    for (const [s, e] of arrays) {
      rest += `${body.toString('utf8', from, s)}[]`
      from = e
    }
    return { records: found, rest: rest + body.toString('utf8', from) }
  } catch (err) {
    if (err instanceof NotJson) return undefined
    throw err
  }
}
