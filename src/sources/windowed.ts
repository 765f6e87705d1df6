/**
 * WindowedSource: newest-first API pages of one time window → in-window dedupe → ascending records.
 * Composes the page loop (pages.ts), the window collector (collect.ts) and the planner (planner.ts).
 * Windows are half-open [lo, hi) in µs, planned from `from` to `to`, sized adaptively, and split when one needs more
 * than `maxPages` pages (at the oldest instant seen, which is fetched again whole), or re-planned in smaller pieces
 * when it is much larger than planned. A pass whose paging went wrong (a repeated token, endless empty pages) is
 * fetched again a few times before the source fails.
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
import { WindowCollector, requestBounds } from './collect.js'
import type { EndpointDescriptor, Filters } from './descriptor.js'
import type { HostLimiter } from './limiter.js'
import { eachPage, pageLoop, type PageEnd, type PageLoopEnd } from './pages.js'
import { INITIAL_WIDTH_US, nextWidth, planCut, windowEnd } from './planner.js'
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
  /** Counts pages, records fetched (and fetched again) and in-window repeats as they happen. */
  stats: SourceStats
}

/** The options plus the per-source budget of passes in flight (shared by nested re-plans). */
interface Ctx extends WindowedSourceOptions {
  slots: LimitFunction
}

/** Pages a window that cannot be split (one instant) may take before we call the paging endless. */
const HARD_PAGE_LIMIT = 100_000
/** A paging loop (repeated token) restarts the window this many times before failing. */
const LOOP_RESTARTS = 3
/** Empty pages in a row, each with a next token, after which the paging is called endless. */
const EMPTY_RUN_LIMIT = 10
/** Batches a window fetched ahead may hold before its fetching waits for the consumer. */
const AHEAD = 1
/** Pieces of a re-planned window in flight at once. */
const PIECES_AHEAD = 2

/** One pass over a window's pages that can be used: complete, or cut short (`budget`, `depth-cap`) with its oldest instant. */
interface Pass {
  batch: WindowBatch
  end: PageEnd
  oldest: Micros | undefined
  /** Records received by this pass, repeats and out-of-window ones included. */
  received: number
}

/** A pass the page loop gave up on (a repeated token, an endless run of empty pages): its error, and what it received. */
interface FailedPass {
  failed: Y360Error
  received: number
}

/** The BAD_PAGE error of a page loop that ended in an anomaly; undefined when its records can be used. */
function anomaly(o: Ctx, lo: Micros, hi: Micros, end: PageLoopEnd): Y360Error | undefined {
  const name = o.ep.name
  const ctx = { source: name }
  switch (end.reason) {
    case 'empty-run':
      return new Y360Error('BAD_PAGE', `${name}: the API sent ${end.emptyRun} empty pages in a row that still carry a next token in ${show(lo)}..${show(hi)} (a token that never ends)`, ctx)
    case 'endless':
      return new Y360Error('BAD_PAGE', `${name}: paging did not end after ${end.pages} pages in ${show(lo)}`, ctx)
    case 'repeated-token':
      return new Y360Error('BAD_PAGE', `${name}: the API repeated a page token in ${show(lo)}..${show(hi)}`, ctx)
    default:
      return undefined
  }
}

/** Pages through [lo, hi) newest first until the end, or until the page budget (or the API's depth cap) stops it. */
async function fetchPass(o: Ctx, lo: Micros, hi: Micros): Promise<Pass | FailedPass> {
  const { ep } = o
  const splittable = hi - lo > ep.unitUs
  const { after, before } = requestBounds(lo, hi, ep.unitUs)
  const fetch = (token: string | undefined) =>
    o.client.getPage(ep, `${o.baseUrl}${ep.path(o.org)}?${ep.query({ after, before, token, pageSize: o.pageSize, filters: o.filters })}`, o.limiter, o.signal)
  const collector = new WindowCollector(lo, hi, ep.timestamp)
  const loop = pageLoop({ fetch, budget: splittable ? o.maxPages : Infinity, emptyRunLimit: EMPTY_RUN_LIMIT, hardLimit: HARD_PAGE_LIMIT })
  const end = await eachPage(loop, (page) => {
    o.stats.pages++
    o.stats.fetched += page.records.length
    collector.add(page.records)
  })
  const failed = anomaly(o, lo, hi, end)
  if (failed !== undefined) return { failed, received: end.received }
  if (end.reason === 'depth-cap' && !splittable) {
    o.log.warn({ source: ep.name, at: show(lo), pages: end.pages }, `${ep.name}: the API refused page ${end.pages + 1} of a one-instant window; ${collector.size} records of ${show(lo)} kept, later ones of that instant may be missing`)
  }
  const { records, rejected, repeats } = collector.finish()
  o.stats.repeats += repeats
  o.log.debug({ source: ep.name, lo: show(lo), hi: show(hi), pages: end.pages, received: end.received, kept: records.length, repeats, end: end.reason }, `${ep.name}: fetched ${show(lo)}..${show(hi)}: ${end.pages} pages, ${records.length} records`)
  return { batch: { lo, hi, records, rejected }, end: end.reason, oldest: collector.oldest, received: end.received }
}

/** A usable pass over [lo, hi): a pass that hit an anomaly is fetched again, up to LOOP_RESTARTS times, then fails. */
async function usablePass(o: Ctx, lo: Micros, hi: Micros): Promise<Pass> {
  for (let attempt = 0; ; attempt++) {
    const pass = await o.slots(() => fetchPass(o, lo, hi))
    if (!('failed' in pass)) return pass
    if (attempt >= LOOP_RESTARTS) throw pass.failed
    o.stats.refetched += pass.received // its pages are thrown away and fetched again
    o.log.warn({ source: o.ep.name }, `${pass.failed.message}; fetching the window again`)
  }
}

/**
 * Fetches [lo, hi) completely, yielding its batches oldest first as they are done. A pass the page budget (or the
 * API's depth cap) cut short is split at its oldest instant, or the window is re-planned in pieces (see `planCut`),
 * so no window ever holds more than about two budgets of records.
 */
async function* windowBatches(o: Ctx, lo: Micros, hi: Micros): AsyncGenerator<WindowBatch> {
  const pass = await usablePass(o, lo, hi)
  const cutShort = pass.end === 'budget' || (pass.end === 'depth-cap' && hi - lo > o.ep.unitUs)
  if (!cutShort) {
    yield pass.batch
    return
  }
  const plan = planCut({ lo, hi, unit: o.ep.unitUs, oldest: pass.oldest, seen: pass.batch.records.length, budget: o.maxPages * o.pageSize, target: o.targetRecords })
  if (plan.kind === 'split') {
    const { cut } = plan
    o.log.debug({ source: o.ep.name, lo: show(lo), hi: show(hi), cut: show(cut) }, 'page budget reached: keeping the newer part, fetching the older part separately')
    yield* windowBatches(o, lo, cut)
    yield { ...pass.batch, lo: cut, records: pass.batch.records.filter((r) => r.us >= cut) }
    return
  }
  o.log.debug({ source: o.ep.name, lo: show(lo), hi: show(hi), pieces: plan.ranges.length }, 'page budget reached: re-planning the window in smaller pieces')
  // The abandoned pass's records are all fetched again by the pieces (its rejects come again too).
  o.stats.refetched += pass.received
  const pieces = function* (): Generator<AsyncIterable<WindowBatch>> {
    for (const [a, b] of plan.ranges) yield windowBatches(o, a, b)
  }
  // Two pieces at a time: the next one is fetched while one waits to be written. Up to `concurrency` windows may be
  // re-planned at once (after an empty stretch they are all planned too wide), so more would multiply what is held.
  yield* inOrder(pieces(), Math.min(o.concurrency, PIECES_AHEAD), AHEAD, o.signal)
}

/** Yields the batches of [from, to) in time order; fetches ahead at most `concurrency` windows, each a few batches deep. */
export async function* windowedSource(opts: WindowedSourceOptions): AsyncGenerator<WindowBatch> {
  const o: Ctx = { ...opts, slots: pLimit(Math.max(1, opts.concurrency)) }
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
