/** Endpoint descriptors: everything that differs between the three audit-log endpoints, as data. */
import type { InstantOf } from '../messages.js'
import type { Micros } from '../time.js'

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

/** A parsed page: its records (unvalidated) and the next token (null at the end). */
export interface Page {
  records: unknown[]
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
  /** Known event types (unknown ones give a warning, not an error). */
  readonly knownTypes: readonly string[]
  /** Path of the endpoint for an organisation. */
  path(org: number): string
  /** Query string of one page request. */
  query(req: PageRequest): URLSearchParams
  /** Extracts records and next token from a JSON body; undefined when the body is not a page of this endpoint. */
  page(body: unknown): Page | undefined
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
