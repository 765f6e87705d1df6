/** What a run reports: one SourceSummary per source, a snapshot of its SourceStats plus the run's plan and outcome. */
import type { AnomalyKind, SealStats, SourceStats } from '../messages.js'
import { show, type Micros } from '../time.js'
import type { OutputMode } from './output.js'

/** What one source did in one run (printed at the end, and written by --summary-json). */
export interface SourceSummary {
  source: string
  ok: boolean
  error?: string
  code?: string
  from?: string
  to?: string
  pages: number
  fetched: number
  written: number
  /** Records dropped as repeats: inside their window, or already archived / delivered. */
  duplicates: number
  late: number
  rejected: number
  retries: number
  files: string[]
  first?: string
  last?: string
  /** Newest record in the archive (or delivered to stdout) after the run: the lag of the metrics file. */
  newest?: string
  mode: OutputMode
  repaired: number
  /**
   * Records received and fetched again by another pass (the oldest instant of a pass cut by the page budget, re-read
   * whole), a neighbour window's (the bounds are asked one unit wider), or excluded by the filters yet sent; each
   * present when there were any. With them the counters reconcile: fetched = written + duplicates + rejected +
   * refetched + neighbours + filtered.
   */
  refetched?: number
  neighbours?: number
  filtered?: number
  /** Archive lines skipped while reading the tail (not JSON, no timestamp, too long); present when there were any. */
  corrupt?: number
  /** Broken assumptions by kind (README "What is checked on every page"); present when there were any. */
  anomalies?: Partial<Record<AnomalyKind, number>>
  /** The re-check before sealing: days asked again, late arrivals found (and merged), the largest lateness; present when a day was re-checked. */
  recheck?: { days: number; late: number; maxLateMs: number }
  /** reconcile: records the archive lacked, and archived records the API did not return (within / beyond its retention). */
  reconcile?: { missing: number; unconfirmed: number; beyondRetention: number }
  /** The seal chain after the run (archive runs that seal): its head, length, and the days sealed now. */
  seal?: SealStats
  durationMs: number
}

export interface RunSummary {
  ok: boolean
  exitCode: number
  sources: SourceSummary[]
}

/** How one source's run went, beside its counters. */
export interface Outcome {
  source: string
  mode: OutputMode
  ok: boolean
  /** Set when the source failed, or ended quietly (OUTPUT_CLOSED). */
  code?: string
  error?: string
  /** Exit code of this source's failure (0 when it did not fail). */
  exit: number
  /** The planned range, once known. */
  range?: { from: Micros; to: Micros }
  /** Newest instant delivered before the run. */
  resume?: Micros
  durationMs: number
}

/** The summary of one source: its stats' snapshot (keys in the order --summary-json has always written them). */
export function summarize(stats: SourceStats, o: Outcome): SourceSummary {
  const s: SourceSummary = {
    source: o.source, ok: o.ok, mode: o.mode, pages: stats.pages, fetched: stats.fetched, written: stats.written,
    duplicates: stats.repeats + stats.duplicates, late: stats.late, rejected: stats.rejected, retries: stats.retries,
    files: [...stats.files], repaired: stats.repaired, durationMs: o.durationMs,
  }
  if (o.resume !== undefined) s.newest = show(o.resume)
  if (o.range !== undefined) {
    s.from = show(o.range.from)
    s.to = show(o.range.to)
  }
  if (stats.first !== undefined) s.first = show(stats.first)
  if (stats.last !== undefined) {
    s.last = show(stats.last)
    if (o.resume === undefined || stats.last > o.resume) s.newest = s.last
  }
  if (stats.refetched > 0) s.refetched = stats.refetched
  if (stats.neighbours > 0) s.neighbours = stats.neighbours
  if (stats.filtered > 0) s.filtered = stats.filtered
  if (stats.corrupt > 0) s.corrupt = stats.corrupt
  if (stats.anomalies.size > 0) s.anomalies = Object.fromEntries([...stats.anomalies].sort(([a], [b]) => (a < b ? -1 : 1)))
  if (stats.recheckedDays > 0) s.recheck = { days: stats.recheckedDays, late: stats.recheckLate, maxLateMs: Math.round(stats.recheckMaxLateUs / 1000) }
  if (o.mode === 'reconcile') s.reconcile = { missing: stats.missing, unconfirmed: stats.unconfirmed, beyondRetention: stats.beyondRetention }
  if (stats.seal !== undefined) s.seal = stats.seal
  if (o.error !== undefined) s.error = o.error
  if (o.code !== undefined) s.code = o.code
  return s
}
