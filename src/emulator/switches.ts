// Switches: every behaviour API.md marks [assumed], with documented defaults.
import { SOURCES, type SourceName } from './catalog.js'
import type { RenderFormat } from './generate.js'

/** Behaviour switches of the emulator (defaults in DEFAULT_SWITCHES). */
export interface Switches {
  /** mail/disk `afterDate` is inclusive (>=) rather than exclusive (>). Default true. */
  afterDateInclusive: boolean
  /** mail/disk `beforeDate` is inclusive (<=) rather than exclusive (<). Default true. */
  beforeDateInclusive: boolean
  /** mail/disk page size when `pageSize` is absent. Default 10. */
  defaultPageSize: number
  /** 'strict': pageSize/count outside 1..100 or not an integer → 400; 'lenient': clamp (non-numbers → default). Default 'strict'. */
  pageSizeMode: 'strict' | 'lenient'
  /** How the events endpoint marks its last page: `"iteration_key":null`, no key at all, or `""`. Default 'null'. */
  eventsEndMarker: 'null' | 'absent' | 'empty'
  /** events: after the last real page, serve one more empty page that still carries a key, then the end. Default false. */
  trailingEmptyPageWithKey: boolean
  /** Records older than now − N days are invisible (ranges older return empty). Default mail 90, disk 90, events 180. */
  retentionDays: Record<SourceName, number>
  /** 0 = no cap; K > 0: a query may be paged K pages deep; the token for page K+1 gets 400. Default 0. */
  pageDepthCap: number
  /** mail `date` drops `.000` when the milliseconds are zero. Default true. */
  mailOmitZeroMs: boolean
  /** events `occurred_at` drops `.000000` when the microseconds are zero (Python isoformat). Default true. */
  eventsOmitZeroUs: boolean
  /** Sources whose scope the token lacks (→ 403 naming the scope). Default []. */
  scopeMissing: SourceName[]
  /** Sources whose audit log is not enabled (→ 400 "feature is not active"). Default []. */
  featureInactive: SourceName[]
  /** After serving each page of `source`, insert `n` new newest records (deterministic arrivals while paging). Default null. */
  insertPerPage: { source: SourceName; n: number } | null
  // API variants that break the tool's assumptions (issue 12): each a case the client must detect or survive.
  /** Sources whose pages run oldest first (offsets from the oldest record). Default []. */
  pagesOldestFirst: SourceName[]
  /** Pages that have a next page carry no token: `null`, the field `absent`, or `""` (a renamed field). Default 'off'. */
  dropNextToken: 'off' | 'null' | 'absent' | 'empty'
  /** Sources that ignore the date bounds (every query answers the whole retained range). Default []. */
  ignoreBounds: SourceName[]
  /** Sources whose last page is never the last: the oldest record again and again, each time with a fresh token. Default []. */
  endlessToken: SourceName[]
  /** Sources that ignore every filter parameter. Default []. */
  ignoreFilters: SourceName[]
  /** mail reads only the first of repeated `types` keys (as one independent fake does). Default false. */
  typesFirstOnly: boolean
  /** Records served on the first page of every query of `source`, whatever its bounds, stamped at `at` (epoch ms); never in truth. Default null. */
  strayRecords: { source: SourceName; at: number[] } | null
  /** The middle record of `source` carries a field nested `depth` arrays deep (a poison pill for recursive encoders). Default null. */
  poison: { source: SourceName; depth: number } | null
  /** Some disk `fs-set-public` records are served as `fs-set-public-settings`, a type outside the documented list (API.md §7). Default false. */
  unlistedDiskTypes: boolean
  /** Unified `event.ip` in host-CIDR form, `192.0.2.41/32` / `2a02:6b8::1/128` (API.md §7); the ip filter matches the bare address. Default false. */
  eventsIpCidr: boolean
  /** 0 = never; N > 0: the token is revoked after N API requests (every later request gets 401, as when an admin revokes it mid-run). Default 0. */
  revokeTokenAfter: number
  /** Status of a request to a path no method lives at (a base URL with an extra `/v1`): 404, or 400 as some gateways. Default 404. */
  unknownPathStatus: 400 | 404
}

/** A partial update of the switches; `retentionDays` may itself be partial. */
export type SwitchesPatch = Partial<Omit<Switches, 'retentionDays'>> & { retentionDays?: Partial<Record<SourceName, number>> }

/** The documented defaults. */
export const DEFAULT_SWITCHES: Readonly<Switches> = Object.freeze({
  afterDateInclusive: true, beforeDateInclusive: true, defaultPageSize: 10, pageSizeMode: 'strict',
  eventsEndMarker: 'null', trailingEmptyPageWithKey: false, retentionDays: { mail: 90, disk: 90, events: 180 },
  pageDepthCap: 0, mailOmitZeroMs: true, eventsOmitZeroUs: true, scopeMissing: [], featureInactive: [], insertPerPage: null,
  pagesOldestFirst: [], dropNextToken: 'off', ignoreBounds: [], endlessToken: [], ignoreFilters: [], typesFirstOnly: false,
  strayRecords: null, poison: null, unlistedDiskTypes: false, eventsIpCidr: false, revokeTokenAfter: 0, unknownPathStatus: 404,
})

/** How records are rendered under the switches (the formats, and the variants that change a record's content). */
export function renderFormat(sw: Switches): RenderFormat {
  return { mailOmitZeroMs: sw.mailOmitZeroMs, eventsOmitZeroUs: sw.eventsOmitZeroUs, poison: sw.poison, unlistedDiskTypes: sw.unlistedDiskTypes, eventsIpCidr: sw.eventsIpCidr }
}

const isSourceList = (v: unknown): boolean => Array.isArray(v) && v.every((s) => SOURCES.includes(s))
const isNonNegInt = (v: unknown): boolean => Number.isInteger(v) && (v as number) >= 0

const CHECKS: Record<keyof Switches, (v: unknown) => boolean> = {
  afterDateInclusive: (v) => typeof v === 'boolean',
  beforeDateInclusive: (v) => typeof v === 'boolean',
  defaultPageSize: (v) => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 100,
  pageSizeMode: (v) => v === 'strict' || v === 'lenient',
  eventsEndMarker: (v) => v === 'null' || v === 'absent' || v === 'empty',
  trailingEmptyPageWithKey: (v) => typeof v === 'boolean',
  retentionDays: (v) => typeof v === 'object' && v !== null && Object.entries(v).every(([k, d]) => SOURCES.includes(k as SourceName) && typeof d === 'number' && d > 0),
  pageDepthCap: isNonNegInt,
  mailOmitZeroMs: (v) => typeof v === 'boolean',
  eventsOmitZeroUs: (v) => typeof v === 'boolean',
  scopeMissing: isSourceList,
  featureInactive: isSourceList,
  insertPerPage: (v) => v === null || (typeof v === 'object' && SOURCES.includes((v as { source: SourceName }).source) && isNonNegInt((v as { n: number }).n)),
  pagesOldestFirst: isSourceList,
  dropNextToken: (v) => v === 'off' || v === 'null' || v === 'absent' || v === 'empty',
  ignoreBounds: isSourceList,
  endlessToken: isSourceList,
  ignoreFilters: isSourceList,
  typesFirstOnly: (v) => typeof v === 'boolean',
  strayRecords: (v) => v === null || (typeof v === 'object' && SOURCES.includes((v as { source: SourceName }).source) && Array.isArray((v as { at: unknown }).at) && (v as { at: unknown[] }).at.every((x) => typeof x === 'number' && Number.isFinite(x))),
  poison: (v) => v === null || (typeof v === 'object' && SOURCES.includes((v as { source: SourceName }).source) && Number.isInteger((v as { depth: number }).depth) && (v as { depth: number }).depth >= 1 && (v as { depth: number }).depth <= 100_000),
  unlistedDiskTypes: (v) => typeof v === 'boolean',
  eventsIpCidr: (v) => typeof v === 'boolean',
  revokeTokenAfter: isNonNegInt,
  unknownPathStatus: (v) => v === 400 || v === 404,
}

/** Returns `cur` updated by `patch`; throws TypeError naming every unknown key or bad value. */
export function mergeSwitches(cur: Switches, patch: unknown): Switches {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) throw new TypeError('switches must be a JSON object')
  const problems: string[] = []
  for (const [k, v] of Object.entries(patch)) {
    const check = CHECKS[k as keyof Switches]
    if (!check) problems.push(`unknown switch "${k}"`)
    else if (!check(v)) problems.push(`bad value for switch "${k}": ${JSON.stringify(v)}`)
  }
  if (problems.length) throw new TypeError(problems.join('; '))
  const p = patch as SwitchesPatch
  return { ...cur, ...p, retentionDays: { ...cur.retentionDays, ...p.retentionDays } } as Switches
}
