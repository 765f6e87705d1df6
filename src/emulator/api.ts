// The three audit-log endpoints: routing, auth, parameter rules and page bodies (no HTTP plumbing here).
import { EVENT_SERVICES, SCOPES, type SourceName } from './catalog.js'
import type { Family } from './errors.js'
import { decodeToken, encodeToken, selectPage, type Selection, type TokenState } from './paging.js'
import type { FilterSpec, SourceData } from './source.js'
import type { EmulatorState } from './state.js'
import { parseInstantUs } from './time.js'

const DAY_US = 86_400_000_000
const MAIL_DISK = /^\/security\/v1\/org\/([^/]+)\/audit_log\/(mail|disk)\/?$/
const EVENTS = /^\/v1\/auditlog\/organizations\/([^/]+)\/events\/?$/

/** Where a path leads: a source and the org segment, or only the family (unknown path). */
export interface Route { family: Family; source?: SourceName; orgId?: string }

/** Matches an API path. */
export function route(pathname: string): Route {
  let m = MAIL_DISK.exec(pathname)
  if (m) return { family: 'api360', source: m[2] as SourceName, orgId: decodeURIComponent(m[1]) }
  m = EVENTS.exec(pathname)
  if (m) return { family: 'cloud', source: 'events', orgId: decodeURIComponent(m[1]) }
  return { family: pathname.startsWith('/v1/') ? 'cloud' : 'api360' }
}

/** Result of evaluating one API request. */
export type Outcome =
  | { kind: 'error'; status: number; message: string; grpc?: number }
  | { kind: 'page'; source: SourceName; body: string; records: number }

const bad = (message: string): Outcome => ({ kind: 'error', status: 400, message, grpc: 3 })

/** Parses pageSize/count by the page-size switch; a string result is the error message. */
function pageSize(raw: string | null, name: string, state: EmulatorState, fallback: number | undefined): number | string {
  if (raw === null) return fallback ?? `${name} is required`
  if (state.switches.pageSizeMode === 'lenient') {
    const n = Number.parseInt(raw, 10)
    if (Number.isNaN(n)) return fallback ?? state.switches.defaultPageSize
    return Math.min(100, Math.max(1, n))
  }
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > 100) return `${name} must be an integer between 1 and 100, got "${raw}"`
  return Number(raw)
}

/** Evaluates an API request that passed the transport faults. */
export function evaluate(state: EmulatorState, r: Route, method: string, q: URLSearchParams, auth: string | undefined): Outcome {
  if (!r.source || r.orgId === undefined) return bad('unknown path: no such method')
  if (method !== 'GET') return { kind: 'error', status: 405, message: `method ${method} not allowed` }
  if (auth !== `OAuth ${state.token}`) return { kind: 'error', status: 401, message: 'unauthenticated: missing or invalid OAuth token' }
  if (!/^\d+$/.test(r.orgId)) return bad(`orgId must be an integer, got "${r.orgId}"`)
  if (Number(r.orgId) !== state.org) return { kind: 'error', status: 404, message: `organization ${r.orgId} not found` }
  const src = r.source
  if (state.switches.scopeMissing.includes(src)) {
    return { kind: 'error', status: 403, message: `permission denied: the token lacks scope ${SCOPES[src]}` }
  }
  if (state.switches.featureInactive.includes(src)) {
    return { kind: 'error', status: 400, message: 'audit log feature is not active for this organization', grpc: 9 }
  }
  return src === 'events' ? events(state, q) : mailDisk(state, src, q)
}

function retentionFloor(state: EmulatorState, src: SourceName): number {
  return state.clock() * 1000 - state.switches.retentionDays[src] * DAY_US
}

function readToken(raw: string | null, state: EmulatorState): TokenState | string {
  if (raw === null || raw === '') return { o: 0, d: 0 }
  const t = decodeToken(raw)
  if (!t) return 'invalid page token'
  const cap = state.switches.pageDepthCap
  if (cap > 0 && t.d >= cap) return `page token too deep (page ${t.d + 1}, at most ${cap} pages per query): narrow the date range`
  return t
}

function mailDisk(state: EmulatorState, src: 'mail' | 'disk', q: URLSearchParams): Outcome {
  const sw = state.switches
  const size = pageSize(q.get('pageSize'), 'pageSize', state, sw.defaultPageSize)
  if (typeof size === 'string') return bad(size)
  const bound = (name: string): number | null | undefined => {
    const raw = q.get(name)
    if (raw === null) return null
    const us = parseInstantUs(raw)
    return us === undefined ? undefined : Math.floor(us / 1000) * 1000 // compared at ms precision
  }
  const after = bound('afterDate'), before = bound('beforeDate')
  if (after === undefined) return bad(`afterDate is not an RFC 3339 timestamp: "${q.get('afterDate')}"`)
  if (before === undefined) return bad(`beforeDate is not an RFC 3339 timestamp: "${q.get('beforeDate')}"`)
  const include = q.getAll('includeUids').filter(Boolean), exclude = q.getAll('excludeUids').filter(Boolean)
  if (include.length && exclude.length) return bad('includeUids and excludeUids cannot be combined')
  const tok = readToken(q.get('pageToken'), state)
  if (typeof tok === 'string') return bad(tok)
  let loUs = after === null ? -Infinity : sw.afterDateInclusive ? after : after + 1
  const hiBase = before ?? Math.floor(state.clock()) * 1000
  const hiUs = before !== null && !sw.beforeDateInclusive ? hiBase - 1 : hiBase
  loUs = Math.max(loUs, retentionFloor(state, src))
  const spec: FilterSpec = { includeUids: include, excludeUids: exclude, types: src === 'mail' ? q.getAll('types').filter(Boolean) : [] }
  const page = servePage(state, src, { loUs, hiUs, filter: state.sources[src].filter(spec) }, size, tok)
  const next = page.next ? encodeToken(page.next) : ''
  return { kind: 'page', source: src, records: page.count, body: `{"events":[${page.json}],"nextPageToken":${JSON.stringify(next)}}` }
}

function events(state: EmulatorState, q: URLSearchParams): Outcome {
  const sw = state.switches
  const size = pageSize(q.get('count'), 'count', state, undefined)
  if (typeof size === 'string') return bad(size)
  const endedRaw = q.get('ended_at')
  if (endedRaw === null) return bad('ended_at is required')
  const ended = parseInstantUs(endedRaw)
  if (ended === undefined) return bad(`ended_at is not an ISO 8601 timestamp: "${endedRaw}"`)
  const startedRaw = q.get('started_at')
  const started = startedRaw === null ? null : parseInstantUs(startedRaw)
  if (started === undefined) return bad(`started_at is not an ISO 8601 timestamp: "${startedRaw}"`)
  // cloud-api reads a list from the last occurrence of its key, comma-separated
  const list = (k: string): string[] => (q.getAll(k).at(-1) ?? '').split(',').filter(Boolean)
  const include = list('include_uids'), exclude = list('exclude_uids')
  if (include.length && exclude.length) return bad('include_uids and exclude_uids cannot be combined')
  const ips = q.getAll('ip')
  if (ips.length > 1 || (ips[0] ?? '').includes(',')) return bad('ip accepts a single address')
  const service = q.get('service') ?? undefined
  if (service !== undefined && !EVENT_SERVICES.includes(service)) return bad(`service must be one of ${EVENT_SERVICES.join(', ')}`)
  const tok = readToken(q.get('iteration_key'), state)
  if (typeof tok === 'string') return bad(tok)
  const end = (): string => (sw.eventsEndMarker === 'null' ? ',"iteration_key":null' : '')
  if (tok.t === 1) return { kind: 'page', source: 'events', records: 0, body: `{"items":[]${end()}}` }
  const loUs = Math.max(started ?? -Infinity, retentionFloor(state, 'events'))
  const spec: FilterSpec = { types: list('types'), includeUids: include, excludeUids: exclude, ip: ips[0] || undefined, service }
  const page = servePage(state, 'events', { loUs, hiUs: ended, filter: state.sources.events.filter(spec) }, size, tok)
  let next = page.next
  if (!next && sw.trailingEmptyPageWithKey) next = { o: tok.o + page.count, d: tok.d + 1, t: 1 }
  const key = next ? `,"iteration_key":${JSON.stringify(encodeToken(next))}` : end()
  return { kind: 'page', source: 'events', records: page.count, body: `{"items":[${page.json}]${key}}` }
}

/** Selects, renders and accounts one page; applies the page-level faults and the insert-per-page switch. */
function servePage(state: EmulatorState, src: SourceName, sel: Selection, size: number, tok: TokenState): { json: string; count: number; next?: TokenState } {
  const data: SourceData = state.sources[src]
  const sw = state.switches
  if (state.faults.emptyPage()) {
    state.stats.fault('emptyPageWithToken')
    return { json: '', count: 0, next: { o: tok.o, d: tok.d + 1 } }
  }
  const page = selectPage(data.store, sel, size, tok)
  const fmt = { mailOmitZeroMs: sw.mailOmitZeroMs, eventsOmitZeroUs: sw.eventsOmitZeroUs }
  const parts: string[] = new Array(page.ids.length)
  for (let i = 0; i < page.ids.length; i++) {
    const drop = state.faults.dropTimestamp()
    if (drop) state.stats.fault('missingTimestamp')
    parts[i] = data.serialize(page.ids[i], fmt, drop)
  }
  state.stats.page(parts.length)
  const ipp = sw.insertPerPage
  if (ipp && ipp.source === src && ipp.n > 0) state.sources[src].inject(ipp.n, state.clock())
  return { json: parts.join(','), count: parts.length, next: page.next }
}
