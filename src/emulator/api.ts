// The three audit-log endpoints: routing, auth, parameter rules and page bodies (no HTTP plumbing here).
import { EVENT_SERVICES, SCOPES, type SourceName } from './catalog.js'
import type { Family } from './errors.js'
import { decodeToken, encodeToken, selectPage, type Page, type Selection, type TokenState } from './paging.js'
import type { FilterSpec, SourceData } from './source.js'
import type { EmulatorState } from './state.js'
import { renderFormat } from './switches.js'
import { formatDisk, formatEvents, formatMail, parseInstantUs } from './time.js'

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
  if (!r.source || r.orgId === undefined) return state.switches.unknownPathStatus === 404 ? { kind: 'error', status: 404, message: 'unknown path: no such method' } : bad('unknown path: no such method')
  if (method !== 'GET') return { kind: 'error', status: 405, message: `method ${method} not allowed` }
  const revoked = state.switches.revokeTokenAfter > 0 && state.stats.count() > state.switches.revokeTokenAfter
  if (auth !== `OAuth ${state.token}` || revoked) return { kind: 'error', status: 401, message: 'unauthenticated: missing or invalid OAuth token' }
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
  let hiUs = before !== null && !sw.beforeDateInclusive ? hiBase - 1 : hiBase
  if (sw.ignoreBounds.includes(src)) [loUs, hiUs] = [-Infinity, Math.floor(state.clock()) * 1000]
  loUs = Math.max(loUs, retentionFloor(state, src))
  const types = src !== 'mail' ? [] : sw.typesFirstOnly ? q.getAll('types').slice(0, 1).filter(Boolean) : q.getAll('types').filter(Boolean)
  const spec: FilterSpec = sw.ignoreFilters.includes(src) ? {} : { includeUids: include, excludeUids: exclude, types }
  const page = servePage(state, src, { loUs, hiUs, filter: state.sources[src].filter(spec) }, size, tok)
  const next = page.next ? encodeToken(page.next) : ''
  const key = !page.next || sw.dropNextToken === 'off' ? `,"nextPageToken":${JSON.stringify(next)}` : droppedToken('nextPageToken', sw.dropNextToken)
  return { kind: 'page', source: src, records: page.count, body: `{"events":[${page.json}]${key}}` }
}

/** A next token as an API with a renamed or broken token field sends it: null, absent, or "". */
function droppedToken(name: string, how: 'null' | 'absent' | 'empty'): string {
  return how === 'absent' ? '' : `,"${name}":${how === 'null' ? 'null' : '""'}`
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
  const end = (): string => (sw.eventsEndMarker === 'absent' ? '' : droppedToken('iteration_key', sw.eventsEndMarker))
  if (tok.t === 1) return { kind: 'page', source: 'events', records: 0, body: `{"items":[]${end()}}` }
  const bounded = !sw.ignoreBounds.includes('events')
  const loUs = Math.max(bounded ? (started ?? -Infinity) : -Infinity, retentionFloor(state, 'events'))
  const hiUs = bounded ? ended : state.clock() * 1000
  const spec: FilterSpec = sw.ignoreFilters.includes('events') ? {} : { types: list('types'), includeUids: include, excludeUids: exclude, ip: ips[0] || undefined, service }
  const page = servePage(state, 'events', { loUs, hiUs, filter: state.sources.events.filter(spec) }, size, tok)
  let next = page.next
  if (!next && sw.trailingEmptyPageWithKey) next = { o: tok.o + page.count, d: tok.d + 1, t: 1 }
  const key = !next ? end() : page.next && sw.dropNextToken !== 'off' ? droppedToken('iteration_key', sw.dropNextToken) : `,"iteration_key":${JSON.stringify(encodeToken(next))}`
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
  const page = variantPage(state, src, sel, size, tok)
  const fmt = renderFormat(sw)
  const parts: string[] = new Array(page.ids.length)
  for (let i = 0; i < page.ids.length; i++) {
    const drop = state.faults.dropTimestamp()
    if (drop) state.stats.fault('missingTimestamp')
    parts[i] = data.serialize(page.ids[i], fmt, drop)
  }
  if (tok.d === 0 && sw.strayRecords?.source === src) parts.push(...strays(state, src, sw.strayRecords.at))
  state.stats.page(parts.length)
  const ipp = sw.insertPerPage
  if (ipp && ipp.source === src && ipp.n > 0) state.sources[src].inject(ipp.n, state.clock())
  return { json: parts.join(','), count: parts.length, next: page.next }
}

/** The page under the paging variants: oldest first, or a last page that never ends (the oldest record again). */
function variantPage(state: EmulatorState, src: SourceName, sel: Selection, size: number, tok: TokenState): Page {
  const store = state.sources[src].store
  const endless = state.switches.endlessToken.includes(src)
  if (endless && tok.e !== undefined) {
    const oldest = selectPage(store, sel, 1, { o: 0, d: 0 }, true).ids
    return { ids: oldest, next: { o: tok.o, d: tok.d + 1, e: tok.e + 1 } }
  }
  const page = selectPage(store, sel, size, tok, state.switches.pagesOldestFirst.includes(src))
  if (endless && page.next === undefined) return { ids: page.ids, next: { o: tok.o + page.ids.length, d: tok.d + 1, e: 0 } }
  return page
}

/** Records that leak into every first page (stamped at `at`, epoch ms): copies of the source's first record with their own id. */
function strays(state: EmulatorState, src: SourceName, at: readonly number[]): string[] {
  const data = state.sources[src]
  if (data.store.length === 0) return []
  return at.map((ms, i) => {
    const rec = data.render(data.store.idAt(0), renderFormat(state.switches))
    const us = Math.round(ms * 1000)
    if (src === 'events') Object.assign(rec.event as object, { occurred_at: formatEvents(us, false), idempotency_id: `stray-${i}` })
    else Object.assign(rec, { date: src === 'mail' ? formatMail(us, false) : formatDisk(us), uniqId: `stray-${i}` })
    return JSON.stringify(rec)
  })
}
