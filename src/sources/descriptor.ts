/** Endpoint descriptors: everything that differs between the three audit-log endpoints, as data. */
import { isObject, type InstantOf } from '../messages.js'
import { parseInstant, type Micros } from '../time.js'
import { REPLACEMENT, spanText, type Texts } from './spans.js'
import type { WalkedRecord } from './walk.js'

import { SOURCES, type SourceName } from './catalog.js'

export type { SourceName }
export const SOURCE_NAMES: readonly SourceName[] = SOURCES

/** Server-side filters, in the tool's own vocabulary; each descriptor maps them to its wire format. */
export interface Filters {
  types?: string[]
  includeUids?: string[]
  excludeUids?: string[]
  ip?: string
  service?: string
}
export type FilterName = keyof Filters

/** What one page request asks for: the window in µs (already widened by the caller), a token and the filters. */
export interface PageRequest {
  after: Micros
  before: Micros
  token: string | undefined
  pageSize: number
  filters: Filters
}

/**
 * The records of one page as the collector reads them: how many, whether each is an object, its instant, its bytes in
 * the body (`texts`), and each one parsed when asked. A walked page (sources/walk.ts) parses a record only then (a
 * reject, a filter check); a page parsed whole (a body the walk gave up on) holds its records parsed.
 */
export interface PageRecords {
  readonly length: number
  /** Record `i`, parsed. */
  item(i: number): unknown
  /** Whether record `i` is a JSON object. */
  isObject(i: number): boolean
  /** Record `i`'s instant from its timestamp field; undefined when it has no valid one (or is no object). */
  instant(i: number): Micros | undefined
  /** Where the exact text of each record lies in the body (same order); absent when it could not be sliced (re-encoded). */
  readonly texts?: Texts
}

/** A page: its records and the next token (null at the end). */
export interface Page {
  records: PageRecords
  next: string | null
}

export interface EndpointDescriptor {
  readonly name: SourceName
  /** Which configured base URL serves it. */
  readonly host: 'api360' | 'cloud'
  /** OAuth scope this endpoint needs (named in 403 messages). */
  readonly scope: string
  /** Precision of the API's bounds and timestamps, in µs (1000 = milliseconds). */
  readonly unitUs: number
  /** Filters this endpoint supports. */
  readonly filters: ReadonlySet<FilterName>
  /**
   * How far back the API keeps records, in days (undocumented, API.md §5: scripts assume 90 for mail/disk, 180 for
   * events). A record older than this and than the requested range is rejected as ancient.
   */
  readonly retentionDays: number
  /** Known event types (unknown ones give a warning, not an error). */
  readonly knownTypes: readonly string[]
  /** Path of the endpoint for an organisation. */
  path(org: number): string
  /** Query string of one page request. */
  query(req: PageRequest): URLSearchParams
  /** The key of a page's records array (`events`, `items`). */
  readonly recordsKey: string
  /** The key of a page's next token (`nextPageToken`, `iteration_key`): absent, null or empty at the end. */
  readonly nextKey: string
  /** The keys that lead to a record's timestamp field (`date`; `event`, `occurred_at`): read from the bytes by the walk. */
  readonly instantPath: readonly string[]
  /** The first requested filter `rec` does not match (the API ignored it), or undefined. */
  mismatch(rec: Record<string, unknown>, filters: Filters): FilterName | undefined
  /** Instant of a parsed record from its own timestamp field (at `instantPath`); undefined when missing or malformed. */
  readonly timestamp: InstantOf
}

/** Appends each value as a repeated key (`types=a&types=b`). */
export function appendRepeated(q: URLSearchParams, name: string, values: readonly string[] | undefined): void {
  for (const v of values ?? []) q.append(name, v)
}

/** Sets a comma-joined list (`types=a,b`) when non-empty. */
export function setJoined(q: URLSearchParams, name: string, values: readonly string[] | undefined): void {
  if (values !== undefined && values.length > 0) q.set(name, values.join(','))
}

/** The instant of a parsed record at `path` (each key but the last holding an object): what the walk reads from bytes. */
export function instantAt(path: readonly string[]): InstantOf {
  return (rec) => {
    let v: unknown = rec
    for (const k of path) {
      if (!isObject(v)) return undefined
      v = v[k]
    }
    return parseInstant(v)
  }
}

/** The next token of a page body (null at the end), or undefined when the body is no page of `ep`. */
export function nextToken(ep: EndpointDescriptor, body: unknown): string | null | undefined {
  if (!isObject(body) || !Array.isArray(body[ep.recordsKey])) return undefined
  const next = body[ep.nextKey]
  if (next !== undefined && next !== null && typeof next !== 'string') return undefined
  return typeof next === 'string' && next !== '' ? next : null
}

/** Records parsed already (a page the walk gave up on, a test's list), with their texts when known. */
export function parsedRecords(items: readonly unknown[], instantOf: InstantOf, texts?: Texts): PageRecords {
  return {
    length: items.length,
    item: (i) => items[i],
    isObject: (i) => isObject(items[i]),
    instant: (i) => {
      const r = items[i]
      return isObject(r) ? instantOf(r) : undefined
    },
    texts,
  }
}

/** The records of a walked page: bytes of `body`, each parsed only when asked. */
export function walkedRecords(body: Buffer, records: WalkedRecord[]): PageRecords {
  return {
    length: records.length,
    item: (i) => JSON.parse(spanText(body, records[i])) as unknown,
    isObject: (i) => records[i].object,
    instant: (i) => (records[i].object ? parseInstant(records[i].stamp) : undefined),
    texts: { body, spans: records, replacement: body.indexOf(REPLACEMENT) >= 0 },
  }
}

/** No records: what a page holds once its consumer is done with it. */
export const NO_RECORDS: PageRecords = parsedRecords([], () => undefined)

/** A record's filterable fields, as the API sent them. */
export interface FilterFields {
  type?: unknown
  uid?: unknown
  ip?: unknown
  service?: unknown
}

/** An address without a host-CIDR suffix: the unified log may send `192.0.2.41/32` or `2a02:6b8::1/128` (API.md §7). */
function hostAddress(ip: unknown): string | undefined {
  if (ip === undefined || ip === null) return undefined
  const s = String(ip)
  return s.replace(/\/(32|128)$/, '')
}

/** The first requested filter the fields do not match (UIDs compared as text: strings in mail/disk, numbers in events). */
export function mismatch(r: FilterFields, f: Filters): FilterName | undefined {
  const uid = r.uid === undefined || r.uid === null ? undefined : String(r.uid)
  if (f.types !== undefined && f.types.length > 0 && !f.types.includes(String(r.type))) return 'types'
  if (f.includeUids !== undefined && f.includeUids.length > 0 && (uid === undefined || !f.includeUids.includes(uid))) return 'includeUids'
  if (f.excludeUids !== undefined && uid !== undefined && f.excludeUids.includes(uid)) return 'excludeUids'
  if (f.ip !== undefined && hostAddress(r.ip) !== hostAddress(f.ip)) return 'ip'
  if (f.service !== undefined && r.service !== f.service) return 'service'
  return undefined
}
