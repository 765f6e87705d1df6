/** Endpoint descriptors: everything that differs between the three audit-log endpoints, as data. */
import type { InstantOf } from '../messages.js'
import type { Micros } from '../time.js'
import { REPLACEMENT, recordSpans, type Texts } from './spans.js'

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

/** A parsed page: its records (unvalidated), the text of each as the API sent it, and the next token (null at the end). */
export interface Page {
  records: unknown[]
  /** Where the exact text of each record lies in the body (same order and length as `records`); absent when it could not be sliced. */
  texts?: Texts
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
  /** Extracts records, their texts (spans of `raw`, the body's UTF-8 bytes) and next token from a JSON body; undefined when the body is not a page of this endpoint. */
  page(body: unknown, raw?: Buffer): Page | undefined
  /** The first requested filter `rec` does not match (the API ignored it), or undefined. */
  mismatch(rec: Record<string, unknown>, filters: Filters): FilterName | undefined
  /** Instant of a record from its own timestamp field; undefined when missing or malformed. */
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

/** The spans of a body's records array, when they line up with the parsed array (else undefined: re-encoded, counted). */
export function sliced(raw: Buffer | undefined, key: string, n: number): Texts | undefined {
  const spans = raw === undefined ? undefined : recordSpans(raw, key)
  if (raw === undefined || spans === undefined || spans.length !== n) return undefined
  return { body: raw, spans, replacement: raw.indexOf(REPLACEMENT) >= 0 }
}

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
