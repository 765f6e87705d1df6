/**
 * WindowedSource: newest-first API pages of one time window → in-window dedupe → ascending records.
 * Windows are half-open [lo, hi) in µs, planned from `from` to `to`, sized adaptively, and split when one needs more
 * than `maxPages` pages (at the oldest instant seen, which is fetched again whole: never the "oldest − 1 ms" restart,
 * which loses the records sharing that ms), or re-planned in smaller pieces when it is much larger than planned.
 * Up to `concurrency` windows are in flight, each holding at most a few batches; batches are yielded strictly in time
 * order, and only when pulled. The first window is fetched alone: its density sizes the windows fetched at once after
 * it (planned blind, they would all be too wide and all be split). Passes over pages, including those of windows
 * re-planned in pieces, share one budget of `concurrency` slots per source, so nesting never multiplies what is held.
 */
import pLimit, { type LimitFunction } from 'p-limit'
import { Y360Error } from '../errors.js'
import type { Logger } from '../log.js'
import { show, type Micros } from '../time.js'
import { isObject, recordKey, type AuditRecord, type Rejected, type SourceStats, type WindowBatch } from '../messages.js'
import type { ApiClient } from './client.js'
import type { EndpointDescriptor, Filters } from './descriptor.js'
import type { HostLimiter } from './limiter.js'
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

const MAX_WIDTH_US = 7 * 86_400_000_000
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

function compareKeys(a: AuditRecord, b: AuditRecord): number {
  const ka = recordKey(a)
  const kb = recordKey(b)
  return ka < kb ? -1 : ka > kb ? 1 : 0
}

/**
 * Orders a window's records by (instant, canonical key) and drops repeats of the same canonical content. Only records
 * sharing an instant can be the same record (the instant is part of the content), so canonical keys are computed for
 * those alone; a record alone at its instant is kept as it is. Sorts `list` in place; returns the kept records.
 */
export function ordered(list: AuditRecord[]): { records: AuditRecord[]; repeats: number } {
  list.sort((a, b) => a.us - b.us)
  const records: AuditRecord[] = []
  let repeats = 0
  for (let i = 0; i < list.length; ) {
    let j = i + 1
    while (j < list.length && list[j].us === list[i].us) j++
    if (j - i === 1) records.push(list[i])
    else {
      const group = list.slice(i, j).sort(compareKeys)
      records.push(group[0])
      for (let k = 1; k < group.length; k++) {
        if (recordKey(group[k]) === recordKey(group[k - 1])) repeats++
        else records.push(group[k])
      }
    }
    i = j
  }
  return { records, repeats }
}

/** One pass over a window's pages: complete, or cut short by the page budget (then `oldest` is the oldest instant seen). */
interface Pass {
  batch: WindowBatch
  complete: boolean
  oldest: Micros | undefined
  /** Records received by this pass, repeats and out-of-window ones included. */
  received: number
}

/** Pages through [lo, hi) newest first until the end, or until the page budget (or the API's depth cap) stops it. */
async function fetchPass(o: Ctx, lo: Micros, hi: Micros): Promise<Pass> {
  const { ep, client } = o
  const unit = ep.unitUs
  const splittable = hi - lo > unit
  // Widen the request by one unit on each side and filter here: correct whatever the API's bound inclusiveness.
  const after = Math.floor(lo / unit) * unit - unit
  const before = Math.ceil(hi / unit) * unit
  // Repeats from offset shifts are the same text again: caught here by the line; `ordered` then compares canonically.
  const byLine = new Map<string, AuditRecord>()
  const rejected: Rejected[] = []
  const seenTokens = new Set<string>()
  let token: string | undefined
  let pages = 0
  let received = 0
  let repeats = 0
  let oldest: Micros | undefined
  let complete = true
  let emptyRun = 0 // empty pages in a row that still carried a next token
  for (;;) {
    // An API that keeps sending empty pages with fresh tokens never ends; splitting cannot help (API.md §3).
    if (emptyRun >= EMPTY_RUN_LIMIT || (splittable && pages >= o.maxPages && received === 0)) {
      throw new Y360Error('BAD_PAGE', `${ep.name}: the API sent ${emptyRun} empty pages in a row that still carry a next token in ${show(lo)}..${show(hi)} (a token that never ends)`, { source: ep.name })
    }
    if (splittable && pages >= o.maxPages) {
      complete = false
      break
    }
    if (pages >= HARD_PAGE_LIMIT) throw new Y360Error('BAD_PAGE', `${ep.name}: paging did not end after ${pages} pages in ${show(lo)}`, { source: ep.name })
    const url = `${o.baseUrl}${ep.path(o.org)}?${ep.query({ after, before, token, pageSize: o.pageSize, filters: o.filters })}`
    let page
    try {
      page = await client.getPage(ep, url, o.limiter, o.signal)
    } catch (err) {
      // A 400 on a deep token is the API's page-depth cap (API.md §4): split instead of failing.
      if (token !== undefined && err instanceof Y360Error && err.code === 'BAD_REQUEST') {
        if (splittable) {
          complete = false
          break
        }
        o.log.warn({ source: ep.name, at: show(lo), pages }, `${ep.name}: the API refused page ${pages + 1} of a one-instant window; ${byLine.size} records of ${show(lo)} kept, later ones of that instant may be missing`)
        break
      }
      throw err
    }
    pages++
    received += page.records.length
    o.stats.pages++
    o.stats.fetched += page.records.length
    emptyRun = page.records.length === 0 && page.next !== null ? emptyRun + 1 : 0
    for (const item of page.records) {
      if (!isObject(item)) {
        rejected.push({ reason: 'not a JSON object', record: item })
        continue
      }
      const us = ep.timestamp(item)
      if (us === undefined) {
        rejected.push({ reason: 'no valid timestamp', record: item })
        continue
      }
      if (us < lo || us >= hi) continue // belongs to a neighbouring window
      if (oldest === undefined || us < oldest) oldest = us
      const line = JSON.stringify(item)
      if (byLine.has(line)) repeats++
      else byLine.set(line, { us, line })
    }
    if (page.next === null) break
    if (seenTokens.has(page.next) || page.next === token) {
      throw new Y360Error('BAD_PAGE', `${ep.name}: the API repeated a page token in ${show(lo)}..${show(hi)}`, { source: ep.name })
    }
    seenTokens.add(page.next)
    token = page.next
  }
  const sorted = ordered([...byLine.values()])
  const records = sorted.records
  repeats += sorted.repeats
  o.stats.repeats += repeats
  o.log.debug({ source: ep.name, lo: show(lo), hi: show(hi), pages, received, kept: records.length, repeats, complete }, `${ep.name}: fetched ${show(lo)}..${show(hi)}: ${pages} pages, ${records.length} records`)
  return { batch: { lo, hi, records, rejected }, complete, oldest, received }
}

/**
 * Fetches [lo, hi) completely, yielding its batches oldest first as they are done. When the page budget cuts a pass
 * short, the records strictly newer than the oldest instant seen are complete (pages run newest first and offset
 * shifts only repeat). If the rest of the window looks small (at most one more budget, judged by the density just
 * seen), those records are kept as the window's newest batch and [lo, oldest instant + 1 unit) is fetched on its own:
 * the oldest instant is fetched again whole, so no record sharing it is lost. A window that looks much larger (after
 * empty stretches the planned width can be days) is re-planned in pieces of about the target size, fetched and
 * yielded oldest first, so no window ever holds more than about two budgets of records.
 */
async function* windowBatches(o: Ctx, lo: Micros, hi: Micros): AsyncGenerator<WindowBatch> {
  const unit = o.ep.unitUs
  let pass: Pass
  for (let attempt = 0; ; attempt++) {
    try {
      pass = await o.slots(() => fetchPass(o, lo, hi))
      break
    } catch (err) {
      if (err instanceof Y360Error && err.code === 'BAD_PAGE' && attempt < LOOP_RESTARTS) {
        o.log.warn({ source: o.ep.name }, `${err.message}; fetching the window again`)
        continue
      }
      throw err
    }
  }
  if (pass.complete) {
    yield pass.batch
    return
  }
  const budget = o.maxPages * o.pageSize
  const cut = pass.oldest === undefined ? undefined : pass.oldest + unit
  const seen = pass.batch.records.length
  const estimate = cut === undefined || cut >= hi ? Infinity : (seen * (hi - lo)) / (hi - cut)
  if (cut !== undefined && cut > lo && cut < hi && estimate <= 2 * budget) {
    o.log.debug({ source: o.ep.name, lo: show(lo), hi: show(hi), cut: show(cut) }, 'page budget reached: keeping the newer part, fetching the older part separately')
    yield* windowBatches(o, lo, cut)
    yield { ...pass.batch, lo: cut, records: pass.batch.records.filter((r) => r.us >= cut) }
    return
  }
  const pieces = Number.isFinite(estimate) ? Math.min(64, Math.max(2, Math.ceil(estimate / o.targetRecords))) : 2
  const width = Math.max(unit, Math.ceil((hi - lo) / pieces / unit) * unit)
  o.log.debug({ source: o.ep.name, lo: show(lo), hi: show(hi), pieces }, 'page budget reached: re-planning the window in smaller pieces')
  // The abandoned pass's records are all fetched again by the pieces (its rejects come again too).
  o.stats.refetched += pass.received
  const ranges = function* (): Generator<AsyncIterable<WindowBatch>> {
    for (let a = lo; a < hi; a += width) yield windowBatches(o, a, Math.min(hi, a + width))
  }
  // Two pieces at a time: the next one is fetched while one waits to be written. Up to `concurrency` windows may be
  // re-planned at once (after an empty stretch they are all planned too wide), so more would multiply what is held.
  yield* inOrder(ranges(), Math.min(o.concurrency, PIECES_AHEAD), AHEAD, o.signal)
}

/** Yields the batches of [from, to) in time order; fetches ahead at most `concurrency` windows, each a few batches deep. */
export async function* windowedSource(opts: WindowedSourceOptions): AsyncGenerator<WindowBatch> {
  const o: Ctx = { ...opts, slots: pLimit(Math.max(1, opts.concurrency)) }
  let cursor = o.from
  let width = 3_600_000_000
  const minWidth = o.ep.unitUs
  const planned = async function* (lo: Micros, hi: Micros): AsyncGenerator<WindowBatch> {
    let n = 0
    for await (const b of windowBatches(o, lo, hi)) {
      n += b.records.length
      yield b
    }
    // Next width from the density just seen, growing at most 4× at a time.
    const ideal = n === 0 ? (hi - lo) * 4 : ((hi - lo) * o.targetRecords) / n
    width = Math.min(MAX_WIDTH_US, Math.max(minWidth, Math.min(ideal, (hi - lo) * 4)))
  }
  const plan = function* (): Generator<AsyncIterable<WindowBatch>> {
    while (cursor < o.to) {
      const lo = cursor
      const hi = Math.min(o.to, lo + Math.max(minWidth, Math.round(width / minWidth) * minWidth))
      cursor = hi
      yield planned(lo, hi)
    }
  }
  const first = plan().next()
  if (first.done === true) return
  yield* first.value
  yield* inOrder(plan(), o.concurrency, AHEAD, o.signal)
}
