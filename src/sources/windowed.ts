/**
 * WindowedSource: newest-first API pages of one time window → in-window dedupe → ascending records.
 * Composes the page loop (pages.ts), the window collector (collect.ts) and the planner (planner.ts).
 * Windows are half-open [lo, hi) in µs, planned from `from` to `to`, sized adaptively, and split when one needs more
 * than `maxPages` pages (at the oldest instant seen, which is fetched again whole), or re-planned in smaller pieces
 * when it is much larger than planned. A pass whose paging went wrong (a repeated token, pages without progress) is
 * fetched again a few times before the source fails. Every page is checked against the API's contract (collect.ts):
 * what it breaks is counted in `stats.anomalies`; what would make the result wrong stops the source (bounds ignored
 * by a pass that must be split, a request count out of all proportion to the records received).
 * The first round trip already uses the concurrency: the range is probed in `concurrency` slices at once (planner.ts
 * `probeSlices`); a slice whose pages end within the budget is done, one cut short keeps every page it fetched and has
 * told the density its rest is planned with. No page is fetched twice except to re-read one instant whole (the oldest
 * instant of a cut pass). Up to `concurrency` windows are in flight, each holding at most a few batches; batches are
 * yielded strictly in time order, and only when pulled. Passes over pages, including those of a window's rest, share
 * one budget of `concurrency` slots per source, so nesting never multiplies what is held. Every record received is
 * counted once: kept, a repeat, a neighbour's, filtered, rejected, or refetched (SourceStats.unaccounted).
 */
import pLimit, { type LimitFunction } from 'p-limit'
import { Y360Error } from '../errors.js'
import type { Logger } from '../log.js'
import { show, type Micros } from '../time.js'
import type { SourceStats, WindowBatch } from '../messages.js'
import type { ApiClient } from './client.js'
import { WindowCollector, requestBounds, type BoundsSeen, type CollectorChecks, type KeptPart, type PassOrder } from './collect.js'
import type { EndpointDescriptor, Filters, Page } from './descriptor.js'
import type { HostLimiter } from './limiter.js'
import { eachPage, pageLoop, type PageEnd, type PageLoopEnd } from './pages.js'
import { nextWidth, planCut, planCutOldestFirst, probeSlices, tailShare, windowEnd, type CutPlan } from './planner.js'
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
  /** The API's bounds seen inclusive so far: later passes ask them exactly. */
  bounds: BoundsSeen
}

/** Pages a window that cannot be split (one instant) may take before we call the paging endless. */
const HARD_PAGE_LIMIT = 100_000
/** A paging loop (repeated token) restarts the window this many times before failing. */
const LOOP_RESTARTS = 3
/** Pages in a row without a new record, each with a next token, after which the paging is called endless. */
const EMPTY_RUN_LIMIT = 10
/**
 * Batches a window fetched ahead may hold before its fetching waits for the consumer: two, so that a window of one
 * batch ends (and the next window's width follows its density) as soon as it is fetched, not once it is written.
 */
const AHEAD = 2
/** Pages of the first pass over each probe slice. */
const PROBE_PAGES = 1
/**
 * The smallest window the end of a plan is split into, in pages: each window more costs about half a page (its last
 * one), so the floor trades requests for lanes ending together (bench/RESULTS.md has the figures).
 */
const TAIL_FLOOR_PAGES = 3.6
/** Windows of a window's rest in flight at once (the rest of a window cut short inside the flat plan). */
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
  lo: Micros
  hi: Micros
  /** What the pages gave, not finished yet: the part kept depends on where the pass is cut. */
  collector: WindowCollector
  end: PageEnd
  order: PassOrder
  /** Records received by this pass, repeats and out-of-window ones included. */
  received: number
}

/** A window's rest, to fetch in windows starting `width` wide. */
interface Rest {
  lo: Micros
  hi: Micros
  width: number
}

/** The end of a source's plan, split finer: the records estimated left to plan, from the densities of its rests. */
interface Tail {
  remaining: number
}

/** Records a rest is estimated to hold at the density its width was planned by. */
function estimate(o: Ctx, lo: Micros, hi: Micros, width: number): number {
  return ((hi - lo) * o.targetRecords) / Math.max(1, width)
}

/** What a pass leads to, oldest first: batches ready, and ranges still to fetch. */
type Part = { batch: WindowBatch } | { rest: Rest }

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
async function fetchPass(o: Ctx, lo: Micros, hi: Micros, pageSize: number, budget: number): Promise<Pass | FailedPass> {
  const { ep } = o
  const splittable = hi - lo > ep.unitUs
  const { after, before } = requestBounds(lo, hi, ep.unitUs, o.bounds)
  const fetch = (token: string | undefined): Promise<Page> => {
    checkRequestBudget(o)
    o.signal?.throwIfAborted() // the source has ended (failed, or stopped): nothing is asked, nothing counted
    // Counted when the limiter lets it go: a request refused (the depth cap) or cut off (a failing source) is one too;
    // one abandoned while it waited for its turn was never made.
    return o.client.getPage(ep, `${o.baseUrl}${ep.path(o.org)}?${ep.query({ after, before, token, pageSize, filters: o.filters })}`, o.limiter, o.signal, () => o.stats.pages++)
  }
  const collector = new WindowCollector(lo, hi, checks(o, { after, before }))
  const loop = pageLoop({ fetch, budget: splittable ? budget : Infinity, emptyBudget: o.maxPages, emptyRunLimit: EMPTY_RUN_LIMIT, hardLimit: HARD_PAGE_LIMIT, pageSize })
  let pages = 0
  let end: PageLoopEnd
  try {
    end = await eachPage(loop, (page) => {
      o.stats.fetched += page.records.length
      const fresh = collector.add(page.records)
      pages++
      // Past a short budget (a probe's) while nothing of the window was kept, up to the full one: a cut would keep
      // nothing. A page or more at the oldest instant: a cut would re-read them all; page on until an older one shows.
      const empty = collector.distinct === 0 && pages < o.maxPages
      return { fresh, more: empty || (collector.order === 'desc' && collector.atOldest >= pageSize) }
    })
  } finally {
    countPass(o, collector)
  }
  const seen = collector.boundsSeen
  if (seen.afterInclusive) o.bounds.afterInclusive = true
  if (seen.beforeInclusive) o.bounds.beforeInclusive = true
  const failed = anomaly(o, lo, hi, end)
  if (failed !== undefined) {
    collector.forget()
    return { failed, received: end.received }
  }
  if (end.reason === 'depth-cap' && !splittable) {
    o.log.warn({ source: ep.name, at: show(lo), pages: end.pages }, `${ep.name}: the API refused page ${end.pages + 1} of a one-instant window; ${collector.size} records of ${show(lo)} kept, later ones of that instant may be missing`)
  }
  // A pass cut short that kept nothing of its window while records outside the bounds came: the API ignores them,
  // and a narrower window would page through the same records again. Strays among the window's records do no harm,
  // unless they are nearly all the pass saw: with one instant of its window or none, the order its pages run in is
  // unknown, so no part of the window can be called complete (keeping the newest part, as newest-first pages allow,
  // lost records an API paging oldest first and ignoring the bounds had on a later page).
  if (cutShort(end.reason, splittable) && collector.outside > 0 && (collector.distinct === 0 || !collector.orderShown)) {
    throw new Y360Error('BAD_PAGE', `${ep.name}: the API ignores the requested date bounds: ${collector.outside} records outside ${show(after)}..${show(before)} in a pass over ${show(lo)}..${show(hi)} that did not end; narrowing the window cannot help, so the source stops (anomaly outside-bounds)`, { source: ep.name })
  }
  o.log.debug({ source: ep.name, lo: show(lo), hi: show(hi), pages: end.pages, received: end.received, kept: collector.size, end: end.reason, order: collector.order }, `${ep.name}: fetched ${show(lo)}..${show(hi)}: ${end.pages} pages, ${collector.size} records`)
  return { lo, hi, collector, end: end.reason, order: collector.order, received: end.received }
}

/** The pass ended before its window did (the page budget, the API's depth cap, or a full last page without a token). */
function cutShort(end: PageEnd, splittable: boolean): boolean {
  return end === 'budget' || end === 'full-end' || (end === 'depth-cap' && splittable)
}

/** The batch of the part of `pass` kept, [lo, hi); counts what the pass dropped, by why. */
function settle(o: Ctx, pass: Pass, lo: Micros, hi: Micros, part?: KeptPart): WindowBatch {
  const c = pass.collector.finish(part)
  o.stats.repeats += c.repeats
  o.stats.neighbours += c.neighbours
  o.stats.filtered += c.filtered
  o.stats.refetched += c.refetched
  for (const [kind, n] of c.anomalies) o.stats.anomaly(kind, n)
  return { lo, hi, records: c.records, rejected: c.rejected }
}

/** Throws a pass away (its window is fetched again): all it received is refetched, its once-rejects rejected again. */
function discard(o: Ctx, pass: Pass): void {
  o.stats.refetched += pass.received
  pass.collector.forget()
}

/**
 * A usable pass over [lo, hi) of at most `budget` pages: a pass that hit an anomaly is fetched again, up to
 * LOOP_RESTARTS times, then fails.
 */
async function usablePass(o: Ctx, lo: Micros, hi: Micros, pageSize = o.pageSize, budget = o.maxPages): Promise<Pass> {
  for (let attempt = 0; ; attempt++) {
    const pass = await o.slots(() => fetchPass(o, lo, hi, pageSize, budget))
    if (!('failed' in pass)) return pass
    if (attempt >= LOOP_RESTARTS) throw pass.failed
    o.stats.refetched += pass.received // its pages are thrown away and fetched again
    o.log.warn({ source: o.ep.name }, `${pass.failed.message}; fetching the window again`)
  }
}

/**
 * What a pass leads to. Complete: its batch. Cut short: the complete side kept (every page of it), the other side a
 * rest planned by the density seen (planner.ts `planCut`); pages in no order: the window again. One instant that ended
 * on a full page: asked again with smaller pages (`oneInstantEnd`).
 */
async function partsOf(o: Ctx, pass: Pass): Promise<Part[]> {
  const { lo, hi } = pass
  const unit = o.ep.unitUs
  const splittable = hi - lo > unit
  if (!cutShort(pass.end, splittable)) return [{ batch: settle(o, pass, lo, hi) }]
  if (!splittable) return [{ batch: await oneInstantEnd(o, pass) }]
  const seen = pass.collector.size
  const c = pass.collector
  const plan: CutPlan = pass.order === 'desc'
    ? planCut({ lo, hi, unit, oldest: c.oldest, seen, target: o.targetRecords })
    : pass.order === 'asc'
      ? planCutOldestFirst({ lo, hi, unit, newest: c.newest, seen, target: o.targetRecords })
      : planCut({ lo, hi, unit, oldest: undefined, seen, target: o.targetRecords })
  if (plan.kind === 'again') {
    o.log.debug({ source: o.ep.name, lo: show(lo), hi: show(hi), order: pass.order, end: pass.end }, 'pass cut short with nothing to keep: fetching the window again in smaller windows')
    discard(o, pass)
    return [{ rest: { lo, hi, width: plan.width } }]
  }
  const { cut, width } = plan
  o.log.debug({ source: o.ep.name, lo: show(lo), hi: show(hi), cut: show(cut), order: pass.order, end: pass.end }, 'pass cut short: keeping every page of the complete part, fetching the rest in windows sized by its density')
  if (pass.order === 'desc') return [{ rest: { lo, hi: cut, width } }, { batch: settle(o, pass, cut, hi, { from: cut }) }]
  return [{ batch: settle(o, pass, lo, cut, { below: cut }) }, { rest: { lo: cut, hi, width } }]
}

/**
 * One instant ended on a full page without a next token: nothing narrower to ask, so the instant is asked again with
 * pages one record smaller. A true end then shows a token and a short last page; an API that drops its tokens ends on
 * a full page again, and the source stops (records of that instant would be missing otherwise).
 */
async function oneInstantEnd(o: Ctx, pass: Pass): Promise<WindowBatch> {
  const { lo, hi } = pass
  if (o.pageSize < 2) return settle(o, pass, lo, hi)
  discard(o, pass) // first: its once-rejected lines go back, so the pass that replaces it rejects them
  const again = await usablePass(o, lo, hi, o.pageSize - 1)
  if (again.end !== 'full-end') return settle(o, again, lo, hi)
  o.stats.anomaly('full-page-without-token')
  throw new Y360Error('BAD_PAGE', `${o.ep.name}: the API ends its pages without a next token while they are full (at the single instant ${show(lo)}, with page sizes ${o.pageSize} and ${o.pageSize - 1}): records of that instant would be missing, so the source stops (anomaly full-page-without-token)`, { source: o.ep.name })
}

/**
 * The windows of [lo, hi), planned lazily from `width` on: each next one sized by the density the last one found; with
 * a `tail` (the source's plan), a window near the plan's end holds only its lane's share of what is left (`tailShare`).
 */
function* restWindows(o: Ctx, rest: Rest, tail?: Tail): Generator<AsyncIterable<WindowBatch>> {
  const unit = o.ep.unitUs
  let width = rest.width
  let cursor = rest.lo
  while (cursor < rest.hi) {
    const lo = cursor
    const share = tail === undefined ? o.targetRecords : tailShare(tail.remaining, o.concurrency, o.targetRecords, TAIL_FLOOR_PAGES * o.pageSize)
    const hi = windowEnd(lo, (width * share) / o.targetRecords, unit, rest.hi)
    if (tail !== undefined) tail.remaining -= estimate(o, lo, hi, width)
    cursor = hi
    yield (async function* (): AsyncGenerator<WindowBatch> {
      let n = 0
      for await (const b of windowBatches(o, lo, hi)) {
        n += b.records.length
        yield b
      }
      width = nextWidth(lo, hi, n, o.targetRecords, unit)
    })()
  }
}

/** A batch ready, as a task of one item. */
async function* ready(batch: WindowBatch): AsyncGenerator<WindowBatch> {
  yield batch
}

/** The tasks of `parts` in order: a batch as it is, a rest as its windows (the end of the source's plan, `tail`, split finer). */
function* tasksOf(o: Ctx, parts: Part[], tail?: Tail): Generator<AsyncIterable<WindowBatch>> {
  for (const p of parts) {
    if ('batch' in p) yield ready(p.batch)
    else yield* restWindows(o, p.rest, tail)
  }
}

/** Fetches [lo, hi) completely, yielding its batches oldest first; a rest is fetched a few windows at a time. */
async function* windowBatches(o: Ctx, lo: Micros, hi: Micros): AsyncGenerator<WindowBatch> {
  const pass = await usablePass(o, lo, hi)
  yield* passBatches(o, pass, await partsOf(o, pass))
}

/** The batches of a pass's parts in time order, a few pieces ahead; a full last page confirmed by what its rest finds. */
function passBatches(o: Ctx, pass: Pass, parts: Part[]): AsyncGenerator<WindowBatch> {
  return confirmingEnd(o, pass, inOrder(tasksOf(o, parts), Math.min(o.concurrency, PIECES_AHEAD), 0, AHEAD, o.signal))
}

/**
 * Yields `batches`; for a pass that ended on a full page without a next token, counts the anomaly (and warns) when
 * fetching the rest found records the pass had not: the missing token was not the end.
 */
async function* confirmingEnd(o: Ctx, pass: Pass, batches: AsyncIterable<WindowBatch>): AsyncGenerator<WindowBatch> {
  const had = pass.collector.distinct
  let n = 0
  for await (const b of batches) {
    n += b.records.length
    yield b
  }
  if (pass.end !== 'full-end' || pass.hi - pass.lo <= o.ep.unitUs || n <= had) return
  o.stats.anomaly('full-page-without-token')
  o.log.warn({ source: o.ep.name, lo: show(pass.lo), hi: show(pass.hi) }, `${o.ep.name}: a full page came without a next token in ${show(pass.lo)}..${show(pass.hi)}, yet narrowing the window found ${n - had} more records: the API's end marker cannot be trusted (anomaly full-page-without-token)`)
}

/**
 * Yields the batches of [from, to) in time order. The first round trip probes the range in slices at once; then one
 * flat plan, oldest first, of the batches the probes completed and the windows of their rests, `concurrency` in flight.
 */
export async function* windowedSource(opts: WindowedSourceOptions): AsyncGenerator<WindowBatch> {
  const o: Ctx = { ...opts, slots: pLimit(Math.max(1, opts.concurrency)), rejectedOnce: new Set(), bounds: { afterInclusive: false, beforeInclusive: false } }
  const slices = probeSlices(o.from, o.to, o.concurrency, o.ep.unitUs)
  // One page each: an empty or small slice is done with it, a dense one has told its density at once (a longer first
  // pass would keep the lanes of the slices already done idle while the dense ones page on).
  const probes = await Promise.all(slices.map(async ([lo, hi]) => {
    const pass = await usablePass(o, lo, hi, o.pageSize, PROBE_PAGES)
    return { pass, parts: await partsOf(o, pass) }
  }))
  const tail: Tail = { remaining: 0 }
  for (const { parts } of probes) for (const p of parts) if ('rest' in p) tail.remaining += estimate(o, p.rest.lo, p.rest.hi, p.rest.width)
  const plan = function* (): Generator<AsyncIterable<WindowBatch>> {
    for (const { pass, parts } of probes) {
      // A full last page is confirmed by what its rest finds: kept together so that the count covers it.
      if (pass.end === 'full-end') yield passBatches(o, pass, parts)
      else yield* tasksOf(o, parts, tail)
    }
  }
  // Windows fetched but not yet written wait beside the `concurrency` fetching, up to as many again: one that pages on
  // longer than the others does not keep their lanes idle.
  yield* inOrder(plan(), o.concurrency, o.concurrency, AHEAD, o.signal)
}
