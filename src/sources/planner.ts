/**
 * Window planner, pure. In: the range, and what the last window or pass saw. Out: the slices probed at once in the
 * first round trip, the next width, where a window ends, and for a pass the page budget cut short: where to cut it
 * (keeping every page it fetched) and how wide to plan the windows of the rest. Widths and bounds in µs.
 */
import type { Micros } from '../time.js'

/** The narrowest slice probed blind, before any density is known (a short incremental range is one slice). */
export const INITIAL_WIDTH_US = 3_600_000_000
/** No window is planned wider than a week. */
export const MAX_WIDTH_US = 7 * 86_400_000_000

/**
 * The first round trip: [from, to) in up to `concurrency` slices of whole units, each at least INITIAL_WIDTH_US wide
 * (so that a run over minutes makes one request, not `concurrency`), tiling the range exactly, oldest first.
 */
export function probeSlices(from: Micros, to: Micros, concurrency: number, unit: number): [Micros, Micros][] {
  if (to <= from) return []
  const n = Math.max(1, Math.min(Math.floor(concurrency), Math.floor((to - from) / INITIAL_WIDTH_US), Math.ceil((to - from) / unit)))
  const width = Math.max(unit, Math.ceil((to - from) / n / unit) * unit)
  const slices: [Micros, Micros][] = []
  for (let a = from; a < to; a += width) slices.push([a, Math.min(to, a + width)])
  return slices
}

/** The next window's width from the density just seen in [lo, hi) (`n` records): aims at `target`, grows ≤ 4× at a time. */
export function nextWidth(lo: Micros, hi: Micros, n: number, target: number, unit: number): number {
  const ideal = n === 0 ? (hi - lo) * 4 : ((hi - lo) * target) / n
  return Math.min(MAX_WIDTH_US, Math.max(unit, Math.min(ideal, (hi - lo) * 4)))
}

/**
 * The end of a plan: the records the next window should hold when `remaining` are estimated left in the plan (that
 * window's included) for `lanes` windows fetched at once. The full `target` while every lane has a window's worth left;
 * then each window takes its lane's share, so that the last windows are small and the lanes end together (a window of
 * `target` records started last would keep the others idle while it pages on alone); never less than `floor`.
 */
export function tailShare(remaining: number, lanes: number, target: number, floor: number): number {
  return Math.max(Math.min(floor, target), Math.min(target, remaining / Math.max(1, lanes)))
}

/** Where the window starting at `lo` ends: `width` rounded to whole units (at least one), never past `to`. */
export function windowEnd(lo: Micros, width: number, unit: number, to: Micros): Micros {
  return Math.min(to, lo + Math.max(unit, Math.round(width / unit) * unit))
}

/** The width that holds about `target` records at `n` records seen over `span` µs, within [unit, a week]. */
function densityWidth(span: number, n: number, target: number, unit: number): number {
  return Math.min(MAX_WIDTH_US, Math.max(unit, (span * target) / Math.max(1, n)))
}

/** What a pass cut short by the page budget leads to. */
export type CutPlan =
  /**
   * Keep every record of the pass on the complete side of `cut` (newest first: [cut, hi); oldest first: [lo, cut));
   * fetch the other side in windows starting `width` wide (then sized by the density each finds).
   */
  | { kind: 'split'; cut: Micros; width: number }
  /** Nothing of the pass can be kept (no order, no instant to cut at): fetch [lo, hi) again in windows `width` wide. */
  | { kind: 'again'; width: number }

export interface CutInput {
  lo: Micros
  hi: Micros
  unit: number
  /** The oldest instant the pass saw inside [lo, hi), if any. */
  oldest: Micros | undefined
  /** Distinct records the pass kept. */
  seen: number
  /** Records a window should hold. */
  target: number
}

/**
 * Newest-first pages: the records strictly newer than the oldest instant seen are complete and kept, whatever their
 * number (the pass held them already); the oldest instant is fetched again whole with the older part (never "oldest −
 * 1 ms", which loses the records sharing that ms), in windows sized by the density the pass saw. A pass that saw only
 * its newest instant keeps nothing: the window again as [lo, newest) and the newest instant alone (a one-instant
 * window has no page budget); one that saw nothing inside its window: again in halves.
 */
export function planCut(c: CutInput): CutPlan {
  const { lo, hi, unit } = c
  const cut = c.oldest === undefined ? undefined : c.oldest + unit
  // Only the newest instant seen (a burst at one µs): the instant on its own, unlimited, after the rest before it.
  if (cut !== undefined && cut >= hi && hi - unit > lo) return { kind: 'again', width: hi - unit - lo }
  if (cut === undefined || cut >= hi) return again(lo, hi, unit)
  return { kind: 'split', cut, width: densityWidth(hi - cut, c.seen, c.target, unit) }
}

export interface CutOldestFirstInput extends Omit<CutInput, 'oldest'> {
  /** The newest instant the pass saw inside [lo, hi), if any. */
  newest: Micros | undefined
}

/**
 * `planCut` for pages that ran oldest first (an API breaking its contract): the records strictly older than the
 * newest instant seen are complete and kept, the newest instant is fetched again whole with the newer part.
 */
export function planCutOldestFirst(c: CutOldestFirstInput): CutPlan {
  const { lo, hi, unit } = c
  const cut = c.newest
  if (cut === undefined || cut <= lo) return again(lo, hi, unit)
  return { kind: 'split', cut, width: densityWidth(cut - lo, c.seen, c.target, unit) }
}

/** [lo, hi) again in two windows (nothing known of its density). */
function again(lo: Micros, hi: Micros, unit: number): CutPlan {
  return { kind: 'again', width: Math.max(unit, Math.ceil((hi - lo) / 2 / unit) * unit) }
}
