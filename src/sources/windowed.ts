/**
 * WindowedSource: newest-first API pages of one time window → in-window dedupe → ascending records.
 * Windows are half-open [lo, hi) in µs, planned from `from` to `to`, sized adaptively, split in half when one
 * needs more than `maxPages` pages (never the "oldest − 1 ms" restart, which loses records sharing that ms).
 * Up to `concurrency` windows are in flight; batches are yielded strictly in time order, and only when pulled.
 */
import { Y360Error } from '../errors.js'
import type { Logger } from '../log.js'
import { show, type Micros } from '../time.js'
import type { ApiClient } from './client.js'
import { canonicalKey, isObject, type AuditRecord, type EndpointDescriptor, type Filters } from './descriptor.js'
import type { HostLimiter } from './limiter.js'

/** A record the pipeline cannot place (no valid timestamp); kept with its reason, never silently dropped. */
export interface Rejected {
  reason: string
  record: unknown
}

/** One fetched window: its records ascending by (instant, key), plus what was dropped or rejected on the way. */
export interface WindowBatch {
  lo: Micros
  hi: Micros
  records: AuditRecord[]
  rejected: Rejected[]
  pages: number
  /** Records received, including repeats and out-of-window ones. */
  received: number
  /** Repeats inside the window (offset shift while paging). */
  repeats: number
}

export interface WindowedSourceOptions {
  ep: EndpointDescriptor
  client: ApiClient
  limiter: HostLimiter
  baseUrl: string
  org: number
  filters: Filters
  from: Micros
  to: Micros
  pageSize: number
  maxPages: number
  concurrency: number
  /** Records a window should hold; the next window's width follows the density just seen. */
  targetRecords: number
  initialWidthUs?: Micros
  log: Logger
  signal?: AbortSignal
}

const MAX_WIDTH_US = 7 * 86_400_000_000
/** Pages a window that cannot be split (one instant) may take before we call the paging endless. */
const HARD_PAGE_LIMIT = 100_000
/** A paging loop (repeated token) restarts the window this many times before failing. */
const LOOP_RESTARTS = 3

/** Signals that the window must be split: too many pages, or the API refused a deep token. */
class SplitNeeded extends Error {}

function compareRecords(a: AuditRecord, b: AuditRecord): number {
  return a.us - b.us || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)
}

/** Fetches every page of [lo, hi) once; throws SplitNeeded when the window is too deep and can be split. */
async function fetchOnce(o: WindowedSourceOptions, lo: Micros, hi: Micros): Promise<WindowBatch> {
  const { ep, client } = o
  const unit = ep.unitUs
  const splittable = hi - lo > unit
  // Widen the request by one unit on each side and filter here: correct whatever the API's bound inclusiveness.
  const after = Math.floor(lo / unit) * unit - unit
  const before = Math.ceil(hi / unit) * unit
  const byKey = new Map<string, AuditRecord>()
  const rejected: Rejected[] = []
  const seenTokens = new Set<string>()
  let token: string | undefined
  let pages = 0
  let received = 0
  let repeats = 0
  for (;;) {
    if (splittable && pages >= o.maxPages) throw new SplitNeeded(`more than ${o.maxPages} pages`)
    if (pages >= HARD_PAGE_LIMIT) throw new Y360Error('BAD_PAGE', `${ep.name}: paging did not end after ${pages} pages in ${show(lo)}`, { source: ep.name })
    const url = `${o.baseUrl}${ep.path(o.org)}?${ep.query({ after, before, token, pageSize: o.pageSize, filters: o.filters })}`
    let page
    try {
      page = await client.getPage(ep, url, o.limiter, o.signal)
    } catch (err) {
      // A 400 on a deep token is the API's page-depth cap (API.md §4): split instead of failing.
      if (token !== undefined && err instanceof Y360Error && err.code === 'BAD_REQUEST') {
        if (splittable) throw new SplitNeeded(`the API refused page ${pages + 1}`)
        o.log.warn({ source: ep.name, at: show(lo), pages }, `${ep.name}: the API refused page ${pages + 1} of a one-instant window; ${byKey.size} records of ${show(lo)} kept, later ones of that instant may be missing`)
        break
      }
      throw err
    }
    pages++
    received += page.records.length
    for (const item of page.records) {
      if (!isObject(item)) {
        rejected.push({ reason: 'not a JSON object', record: item })
        continue
      }
      const us = ep.timestamp(item)
      if (us === undefined) {
        rejected.push({ reason: `no valid timestamp`, record: item })
        continue
      }
      if (us < lo || us >= hi) continue // belongs to a neighbouring window
      const key = canonicalKey(item)
      if (byKey.has(key)) repeats++
      else byKey.set(key, { us, key, data: item })
    }
    if (page.next === null) break
    if (seenTokens.has(page.next) || page.next === token) {
      throw new Y360Error('BAD_PAGE', `${ep.name}: the API repeated a page token in ${show(lo)}..${show(hi)}`, { source: ep.name })
    }
    seenTokens.add(page.next)
    token = page.next
  }
  const records = [...byKey.values()].sort(compareRecords)
  return { lo, hi, records, rejected, pages, received, repeats }
}

/** Fetches [lo, hi) completely, splitting it as often as needed; returns its batches oldest first. */
async function fetchWindow(o: WindowedSourceOptions, lo: Micros, hi: Micros): Promise<WindowBatch[]> {
  for (let attempt = 0; ; attempt++) {
    try {
      return [await fetchOnce(o, lo, hi)]
    } catch (err) {
      if (err instanceof SplitNeeded) {
        const unit = o.ep.unitUs
        const mid = lo + Math.max(unit, Math.floor((hi - lo) / 2 / unit) * unit)
        o.log.debug({ source: o.ep.name, lo: show(lo), hi: show(hi), reason: err.message }, 'splitting window')
        return [...(await fetchWindow(o, lo, mid)), ...(await fetchWindow(o, mid, hi))]
      }
      if (err instanceof Y360Error && err.code === 'BAD_PAGE' && attempt < LOOP_RESTARTS) {
        o.log.warn({ source: o.ep.name }, `${err.message}; fetching the window again`)
        continue
      }
      throw err
    }
  }
}

/** Yields the batches of [from, to) in time order; fetches ahead at most `concurrency` windows. */
export async function* windowedSource(o: WindowedSourceOptions): AsyncGenerator<WindowBatch> {
  let cursor = o.from
  let width = o.initialWidthUs ?? 3_600_000_000
  const minWidth = o.ep.unitUs
  const inFlight: Promise<WindowBatch[]>[] = []
  const launch = (): void => {
    if (cursor >= o.to) return
    const lo = cursor
    const hi = Math.min(o.to, lo + Math.max(minWidth, Math.round(width / minWidth) * minWidth))
    cursor = hi
    const p = fetchWindow(o, lo, hi).then((batches) => {
      const n = batches.reduce((s, b) => s + b.records.length, 0)
      // Next width from the density just seen, growing at most 4× at a time.
      const ideal = n === 0 ? (hi - lo) * 4 : ((hi - lo) * o.targetRecords) / n
      width = Math.min(MAX_WIDTH_US, Math.max(minWidth, Math.min(ideal, (hi - lo) * 4)))
      return batches
    })
    p.catch(() => undefined) // observed below in order; keeps an early failure from being reported as unhandled
    inFlight.push(p)
  }
  try {
    while (cursor < o.to || inFlight.length > 0) {
      while (inFlight.length < o.concurrency && cursor < o.to && !o.signal?.aborted) launch()
      const next = inFlight.shift()
      if (next === undefined) break
      for (const batch of await next) {
        yield batch
      }
      if (o.signal?.aborted) break
    }
  } finally {
    // Abandoned windows: their requests are aborted by the run's signal; nothing of them was emitted.
    inFlight.length = 0
  }
}
