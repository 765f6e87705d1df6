/**
 * WindowedSource: newest-first API pages of one time window → in-window dedupe → ascending records.
 * Composes the page loop (pages.ts), the window collector (collect.ts) and the planner (planner.ts).
 * Windows are half-open [lo, hi) in µs, planned from `from` to `to`, sized adaptively, and split when one needs more
 * than `maxPages` pages (at the oldest instant seen, which is fetched again whole), or re-planned in smaller pieces
 * when it is much larger than planned. A pass whose paging went wrong (a repeated token, pages without progress) is
 * fetched again a few times before the source fails. Every page is checked against the API's contract (collect.ts):
 * what it breaks is counted in `stats.anomalies`; what would make the result wrong stops the source (bounds ignored
 * by a pass that must be split, a request count out of all proportion to the records received).
 * Up to `concurrency` windows are in flight, each holding at most a few batches; batches are yielded strictly in time
 * order, and only when pulled. The first window is fetched alone: its density sizes the windows fetched at once after
 * it (planned blind, they would all be too wide and all be split). Passes over pages, including those of windows
 * re-planned in pieces, share one budget of `concurrency` slots per source, so nesting never multiplies what is held.
 */
import pLimit, { type LimitFunction } from 'p-limit'
import { Y360Error } from '../errors.js'
import type { Logger } from '../log.js'
import { show, type Micros } from '../time.js'
import type { SourceStats, WindowBatch } from '../messages.js'
import type { ApiClient } from './client.js'
import { WindowCollector, requestBounds, type CollectorChecks, type PassOrder } from './collect.js'
import type { EndpointDescriptor, Filters, Page } from './descriptor.js'
import type { HostLimiter } from './limiter.js'
import { eachPage, pageLoop, type PageEnd, type PageLoopEnd } from './pages.js'
import { INITIAL_WIDTH_US, nextWidth, planCut, planCutOldestFirst, windowEnd } from './planner.js'
import { inOrder } from './prefetch.js'
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
  log: Logger
  signal?: AbortSignal
  /** Counts pages, records fetched (and fetched again), in-window repeats and anomalies as they happen. */
  stats: SourceStats
  /** Epoch-ms clock: records stamped after now + `maxSkewUs` are rejected as from the future (default Date.now). */
  now?: () => number
  /** Clock skew allowed between the API and us, µs (default 5 minutes). */
  maxSkewUs?: number
}

/** The options plus the per-source budget of passes in flight (shared by nested re-plans). */
interface Ctx extends WindowedSourceOptions {
  slots: LimitFunction
  /** Texts rejected already in this run (future or ancient records a bounds-ignoring API sends to every window). */
  rejectedOnce: Set<string>
}

/** Pages a window that cannot be split (one instant) may take before we call the paging endless. */
const HARD_PAGE_LIMIT = 100_000
/** A paging loop (repeated token) restarts the window this many times before failing. */
const LOOP_RESTARTS = 3
/** Pages in a row without a new record, each with a next token, after which the paging is called endless. */
const EMPTY_RUN_LIMIT = 10
/** Batches a window fetched ahead may hold before its fetching waits for the consumer. */
const AHEAD = 1
/** Pieces of a re-planned window in flight at once. */
const PIECES_AHEAD = 2
/**
 * Requests one source may make in a run: a base for empty windows, plus a few per page of records received. A healthy
 * run makes about one request per page of records (plus one per window); an API whose tokens never end, or that ignores
 * the bounds of every window, is stopped here instead of after hundreds of thousands of requests.
 */
const RUN_REQUESTS = 2000
const REQUESTS_PER_FULL_PAGE = 3
const DEFAULT_SKEW_US = 5 * 60_000_000
const DAY_US = 86_400_000_000

/** One pass over a window's pages that can be used: complete, or cut short (`budget`, `depth-cap`, `full-end`). */
interface Pass {
  batch: WindowBatch
  end: PageEnd
  oldest: Micros | undefined
  newest: Micros | undefined
  order: PassOrder
  /** Records received by this pass, repeats and out-of-window ones included. */
  received: number
}

/** A pass the page loop gave up on (a repeated token, an endless run of empty pages): its error, and what it received. */
interface FailedPass {
  failed: Y360Error
  received: number
}

/** The BAD_PAGE error of a page loop that ended in an anomaly (counted); undefined when its records can be used. */
function anomaly(o: Ctx, lo: Micros, hi: Micros, end: PageLoopEnd): Y360Error | undefined {
  const name = o.ep.name
  const ctx = { source: name }
  switch (end.reason) {
    case 'empty-run':
      o.stats.anomaly('no-progress')
      return new Y360Error('BAD_PAGE', `${name}: the API sent ${end.emptyRun} empty pages in a row that still carry a next token in ${show(lo)}..${show(hi)} (a token that never ends); a page holding only records already seen counts as empty (anomaly no-progress)`, ctx)
    case 'endless':
      o.stats.anomaly('endless')
      return new Y360Error('BAD_PAGE', `${name}: paging did not end after ${end.pages} pages in ${show(lo)} (anomaly endless)`, ctx)
    case 'repeated-token':
      o.stats.anomaly('repeated-token')
      return new Y360Error('BAD_PAGE', `${name}: the API repeated a page token in ${show(lo)}..${show(hi)} (anomaly repeated-token)`, ctx)
    default:
      return undefined
  }
}

/** Throws (counted) once the source has made more requests than the records it received justify. */
function checkRequestBudget(o: Ctx): void {
  const limit = RUN_REQUESTS + REQUESTS_PER_FULL_PAGE * Math.ceil(o.stats.fetched / o.pageSize)
  if (o.stats.pages < limit) return
  o.stats.anomaly('request-budget')
  throw new Y360Error('BAD_PAGE', `${o.ep.name}: ${o.stats.pages} requests for ${o.stats.fetched} records received: the API's paging does not converge (tokens that never end, or bounds ignored); stopping the source (anomaly request-budget)`, { source: o.ep.name })
}

/** The checks of one pass's collector: bounds asked, the future, retention, and the filters this endpoint was sent. */
function checks(o: Ctx, asked: { after: Micros; before: Micros }): CollectorChecks {
  const nowUs = (o.now ?? Date.now)() * 1000
  const sent: Filters = {}
  for (const name of o.ep.filters) if (o.filters[name] !== undefined) Object.assign(sent, { [name]: o.filters[name] })
  const filtered = Object.keys(sent).length > 0
  return {
    asked,
    futureAfter: nowUs + (o.maxSkewUs ?? DEFAULT_SKEW_US),
    ancientBefore: Math.min(o.from, nowUs - o.ep.retentionDays * DAY_US),
    mismatch: filtered ? (rec) => o.ep.mismatch(rec, sent) : undefined,
    rejectedOnce: o.rejectedOnce,
  }
}

/** Adds a pass's anomalies (and the order its pages ran in) to the source's stats. */
function countPass(o: Ctx, c: WindowCollector): void {
  for (const [kind, n] of c.anomalies) o.stats.anomaly(kind, n)
  if (c.order === 'asc') o.stats.anomaly('pages-oldest-first')
  if (c.order === 'mixed') o.stats.anomaly('pages-out-of-order')
}

/** Pages through [lo, hi) newest first until the end, or until the page budget (or the API's depth cap) stops it. */
async function fetchPass(o: Ctx, lo: Micros, hi: Micros, pageSize = o.pageSize): Promise<Pass | FailedPass> {
  const { ep } = o
  const splittable = hi - lo > ep.unitUs
  const { after, before } = requestBounds(lo, hi, ep.unitUs)
  const fetch = (token: string | undefined): Promise<Page> => {
    checkRequestBudget(o)
    o.signal?.throwIfAborted() // the source has ended (failed, or stopped): nothing is asked, nothing counted
    o.stats.pages++ // counted when asked: a request refused (the depth cap) or abandoned (a failing source) is one too
    return o.client.getPage(ep, `${o.baseUrl}${ep.path(o.org)}?${ep.query({ after, before, token, pageSize, filters: o.filters })}`, o.limiter, o.signal)
  }
  const collector = new WindowCollector(lo, hi, ep.timestamp, checks(o, { after, before }))
  const loop = pageLoop({ fetch, budget: splittable ? o.maxPages : Infinity, emptyRunLimit: EMPTY_RUN_LIMIT, hardLimit: HARD_PAGE_LIMIT, pageSize })
  let end: PageLoopEnd
  try {
    end = await eachPage(loop, (page) => {
      o.stats.fetched += page.records.length
      return { fresh: collector.add(page.records, page.texts) }
    })
  } finally {
    countPass(o, collector)
  }
  const failed = anomaly(o, lo, hi, end)
  if (failed !== undefined) return { failed, received: end.received }
  if (end.reason === 'depth-cap' && !splittable) {
    o.log.warn({ source: ep.name, at: show(lo), pages: end.pages }, `${ep.name}: the API refused page ${end.pages + 1} of a one-instant window; ${collector.size} records of ${show(lo)} kept, later ones of that instant may be missing`)
  }
  const cutShort = end.reason === 'budget' || end.reason === 'full-end' || (end.reason === 'depth-cap' && splittable)
  if (cutShort && collector.outside > 0) {
    throw new Y360Error('BAD_PAGE', `${ep.name}: the API ignores the requested date bounds: ${collector.outside} records outside ${show(after)}..${show(before)} in a pass over ${show(lo)}..${show(hi)} that did not end; narrowing the window cannot help, so the source stops (anomaly outside-bounds)`, { source: ep.name })
  }
  const { records, rejected, repeats } = collector.finish()
  o.stats.repeats += repeats
  o.log.debug({ source: ep.name, lo: show(lo), hi: show(hi), pages: end.pages, received: end.received, kept: records.length, repeats, end: end.reason, order: collector.order }, `${ep.name}: fetched ${show(lo)}..${show(hi)}: ${end.pages} pages, ${records.length} records`)
  return { batch: { lo, hi, records, rejected }, end: end.reason, oldest: collector.oldest, newest: collector.newest, order: collector.order, received: end.received }
}

/** A usable pass over [lo, hi): a pass that hit an anomaly is fetched again, up to LOOP_RESTARTS times, then fails. */
async function usablePass(o: Ctx, lo: Micros, hi: Micros, pageSize = o.pageSize): Promise<Pass> {
  for (let attempt = 0; ; attempt++) {
    const pass = await o.slots(() => fetchPass(o, lo, hi, pageSize))
    if (!('failed' in pass)) return pass
    if (attempt >= LOOP_RESTARTS) throw pass.failed
    o.stats.refetched += pass.received // its pages are thrown away and fetched again
    o.log.warn({ source: o.ep.name }, `${pass.failed.message}; fetching the window again`)
  }
}

/**
 * Yields `batches`; for a pass that ended on a full page without a next token, counts the anomaly (and warns) when
 * fetching the rest found records the pass had not: the missing token was not the end.
 */
async function* confirmingEnd(o: Ctx, pass: Pass, batches: AsyncIterable<WindowBatch>): AsyncGenerator<WindowBatch> {
  let n = 0
  for await (const b of batches) {
    n += b.records.length
    yield b
  }
  if (pass.end !== 'full-end' || n <= pass.batch.records.length) return
  o.stats.anomaly('full-page-without-token')
  o.log.warn({ source: o.ep.name, lo: show(pass.batch.lo), hi: show(pass.batch.hi) }, `${o.ep.name}: a full page came without a next token in ${show(pass.batch.lo)}..${show(pass.batch.hi)}, yet narrowing the window found ${n - pass.batch.records.length} more records: the API's end marker cannot be trusted (anomaly full-page-without-token)`)
}

/**
 * Fetches [lo, hi) completely, yielding its batches oldest first as they are done. A pass the page budget (or the
 * API's depth cap, or a full last page) cut short is split where its pages stopped (see `splitPlan`), or the window is
 * re-planned in pieces, so no window ever holds more than about two budgets of records.
 */
async function* windowBatches(o: Ctx, lo: Micros, hi: Micros): AsyncGenerator<WindowBatch> {
  const pass = await usablePass(o, lo, hi)
  const splittable = hi - lo > o.ep.unitUs
  const cutShort = pass.end === 'budget' || pass.end === 'full-end' || (pass.end === 'depth-cap' && splittable)
  if (!cutShort) {
    yield pass.batch
    return
  }
  if (!splittable) {
    yield await oneInstantEnd(o, pass, lo, hi)
    return
  }
  yield* confirmingEnd(o, pass, splitPass(o, pass, lo, hi))
}

/**
 * One instant ended on a full page without a next token: nothing narrower to ask, so the instant is asked again with
 * pages one record smaller. A true end then shows a token and a short last page; an API that drops its tokens ends on
 * a full page again, and the source stops (records of that instant would be missing otherwise).
 */
async function oneInstantEnd(o: Ctx, pass: Pass, lo: Micros, hi: Micros): Promise<WindowBatch> {
  if (o.pageSize < 2) return pass.batch
  const again = await usablePass(o, lo, hi, o.pageSize - 1)
  o.stats.refetched += pass.received
  if (again.end !== 'full-end') return again.batch
  o.stats.anomaly('full-page-without-token')
  throw new Y360Error('BAD_PAGE', `${o.ep.name}: the API ends its pages without a next token while they are full (at the single instant ${show(lo)}, with page sizes ${o.pageSize} and ${o.pageSize - 1}): records of that instant would be missing, so the source stops (anomaly full-page-without-token)`, { source: o.ep.name })
}

/**
 * The rest of a pass cut short. Newest-first pages: the records strictly newer than the oldest instant seen are
 * complete, the older part (that instant included) is fetched on its own. Oldest-first pages (an anomaly, handled
 * exactly): the records strictly older than the newest instant seen are complete, the newer part is fetched on its
 * own. Pages in no order, or a rest that looks large: the window is re-planned in pieces.
 */
async function* splitPass(o: Ctx, pass: Pass, lo: Micros, hi: Micros): AsyncGenerator<WindowBatch> {
  const unit = o.ep.unitUs
  const budget = o.maxPages * o.pageSize
  const seen = pass.batch.records.length
  if (pass.order === 'desc' || pass.order === 'asc') {
    const plan = pass.order === 'desc'
      ? planCut({ lo, hi, unit, oldest: pass.oldest, seen, budget, target: o.targetRecords })
      : planCutOldestFirst({ lo, hi, unit, newest: pass.newest, seen, budget, target: o.targetRecords })
    if (plan.kind === 'split') {
      const { cut } = plan
      o.log.debug({ source: o.ep.name, lo: show(lo), hi: show(hi), cut: show(cut), order: pass.order, end: pass.end }, 'pass cut short: keeping the complete part, fetching the rest separately')
      if (pass.order === 'desc') {
        yield* windowBatches(o, lo, cut)
        yield { ...pass.batch, lo: cut, records: pass.batch.records.filter((r) => r.us >= cut) }
      } else {
        yield { ...pass.batch, hi: cut, records: pass.batch.records.filter((r) => r.us < cut) }
        yield* windowBatches(o, cut, hi)
      }
      return
    }
    yield* pieces(o, pass, plan.ranges)
    return
  }
  const plan = planCut({ lo, hi, unit, oldest: undefined, seen, budget, target: o.targetRecords })
  if (plan.kind === 'pieces') yield* pieces(o, pass, plan.ranges)
}

/** Throws a pass away and fetches its window as `ranges`, oldest first. */
async function* pieces(o: Ctx, pass: Pass, ranges: [Micros, Micros][]): AsyncGenerator<WindowBatch> {
  o.log.debug({ source: o.ep.name, lo: show(pass.batch.lo), hi: show(pass.batch.hi), pieces: ranges.length }, 'pass cut short: re-planning the window in smaller pieces')
  // The abandoned pass's records are all fetched again by the pieces (its rejects come again too).
  o.stats.refetched += pass.received
  const each = function* (): Generator<AsyncIterable<WindowBatch>> {
    for (const [a, b] of ranges) yield windowBatches(o, a, b)
  }
  // Two pieces at a time: the next one is fetched while one waits to be written. Up to `concurrency` windows may be
  // re-planned at once (after an empty stretch they are all planned too wide), so more would multiply what is held.
  yield* inOrder(each(), Math.min(o.concurrency, PIECES_AHEAD), AHEAD, o.signal)
}

/** Yields the batches of [from, to) in time order; fetches ahead at most `concurrency` windows, each a few batches deep. */
export async function* windowedSource(opts: WindowedSourceOptions): AsyncGenerator<WindowBatch> {
  const o: Ctx = { ...opts, slots: pLimit(Math.max(1, opts.concurrency)), rejectedOnce: new Set() }
  const unit = o.ep.unitUs
  let cursor = o.from
  // Read when the next window is planned: windows planned while others are in flight use the latest density known.
  let width = INITIAL_WIDTH_US
  const planned = async function* (lo: Micros, hi: Micros): AsyncGenerator<WindowBatch> {
    let n = 0
    for await (const b of windowBatches(o, lo, hi)) {
      n += b.records.length
      yield b
    }
    width = nextWidth(lo, hi, n, o.targetRecords, unit)
  }
  const plan = function* (): Generator<AsyncIterable<WindowBatch>> {
    while (cursor < o.to) {
      const lo = cursor
      const hi = windowEnd(lo, width, unit, o.to)
      cursor = hi
      yield planned(lo, hi)
    }
  }
  const first = plan().next()
  if (first.done === true) return
  yield* first.value
  yield* inOrder(plan(), o.concurrency, AHEAD, o.signal)
}
