// Offset-like page tokens over a newest-first view of a store, re-evaluated at each request.
import type { IdFilter } from './source.js'
import type { SourceStore } from './store.js'

/** What a page token carries: offset into the filtered newest-first list, page depth, and a scan hint. */
export interface TokenState {
  /** Records already served before this page. */
  o: number
  /** 0-based index of the page this token fetches. */
  d: number
  /** Store version and upper position the hint was computed for. */
  v?: number
  h?: number
  /** Raw position to resume a filtered scan at (valid only for the same v and h). */
  r?: number
  /** 1: the trailing empty page after the end (events switch). */
  t?: 1
  /** Pages served past the end by the endless-token switch. */
  e?: number
}

/** Encodes a token as opaque base64url text. */
export function encodeToken(t: TokenState): string {
  return Buffer.from(JSON.stringify(t)).toString('base64url')
}

/** Decodes a token; undefined when it is not one of ours. */
export function decodeToken(s: string): TokenState | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(s)) return undefined
  try {
    const t = JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as TokenState
    const okInt = (v: unknown): boolean => Number.isInteger(v) && (v as number) >= 0
    if (typeof t !== 'object' || t === null || !okInt(t.o) || !okInt(t.d)) return undefined
    return t
  } catch {
    return undefined // not JSON: the caller answers 400
  }
}

/** A time range (inclusive µs bounds) plus an optional filter. */
export interface Selection { loUs: number; hiUs: number; filter?: IdFilter }

/** One page: ids newest first, and the token state for the next page (undefined at the end). */
export interface Page { ids: number[]; next?: TokenState }

/** Selects the page `size` records deep at offset `tok.o` of the newest-first list of `sel` (oldest-first when `asc`). */
export function selectPage(store: SourceStore, sel: Selection, size: number, tok: TokenState, asc = false): Page {
  const lo = store.lowerBound(sel.loUs)
  const hi = store.upperBound(sel.hiUs) - 1
  const ids: number[] = []
  if (hi < lo) return { ids }
  if (asc) return selectAscending(store, sel, size, tok, lo, hi)
  if (!sel.filter) {
    const start = hi - tok.o
    let p = start
    for (; p >= lo && ids.length < size; p--) ids.push(store.idAt(p))
    return { ids, next: p >= lo ? { o: tok.o + ids.length, d: tok.d + 1 } : undefined }
  }
  const f = sel.filter
  let p = hi
  if (tok.v === store.version && tok.h === hi && tok.r !== undefined) p = tok.r
  else for (let skip = tok.o; p >= lo && skip > 0; p--) if (f(store.idAt(p))) skip--
  for (; p >= lo && ids.length < size; p--) { const id = store.idAt(p); if (f(id)) ids.push(id) }
  while (p >= lo && !f(store.idAt(p))) p--
  if (p < lo) return { ids }
  return { ids, next: { o: tok.o + ids.length, d: tok.d + 1, v: store.version, h: hi, r: p } }
}

/** The oldest-first variant (an API breaking its newest-first contract): offsets count from the oldest record. */
function selectAscending(store: SourceStore, sel: Selection, size: number, tok: TokenState, lo: number, hi: number): Page {
  const f = sel.filter ?? (() => true)
  const ids: number[] = []
  let p = lo
  for (let skip = tok.o; p <= hi && skip > 0; p++) if (f(store.idAt(p))) skip--
  for (; p <= hi && ids.length < size; p++) { const id = store.idAt(p); if (f(id)) ids.push(id) }
  while (p <= hi && !f(store.idAt(p))) p++
  return { ids, next: p <= hi ? { o: tok.o + ids.length, d: tok.d + 1 } : undefined }
}
