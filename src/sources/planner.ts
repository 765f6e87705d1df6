/**
 * Window planner, pure. In: what the last window or pass saw. Out: the next width, where a window ends, and for a pass
 * the page budget cut short: split at its oldest instant, or re-plan in pieces. Widths and bounds in µs.
 */
import type { Micros } from '../time.js'

/** The first window's width, before any density is known. */
export const INITIAL_WIDTH_US = 3_600_000_000
/** No window is planned wider than a week. */
export const MAX_WIDTH_US = 7 * 86_400_000_000
/** A window planned too wide is re-planned in at most this many pieces. */
export const MAX_PIECES = 64

/** The next window's width from the density just seen in [lo, hi) (`n` records): aims at `target`, grows ≤ 4× at a time. */
export function nextWidth(lo: Micros, hi: Micros, n: number, target: number, unit: number): number {
  const ideal = n === 0 ? (hi - lo) * 4 : ((hi - lo) * target) / n
  return Math.min(MAX_WIDTH_US, Math.max(unit, Math.min(ideal, (hi - lo) * 4)))
}

/** Where the window starting at `lo` ends: `width` rounded to whole units (at least one), never past `to`. */
export function windowEnd(lo: Micros, width: number, unit: number, to: Micros): Micros {
  return Math.min(to, lo + Math.max(unit, Math.round(width / unit) * unit))
}

/** What a pass cut short by the page budget leads to. */
export type CutPlan =
  /** Keep the records from `cut` on (complete: pages run newest first), fetch [lo, cut) on its own. */
  | { kind: 'split'; cut: Micros }
  /** Throw the pass away and fetch these ranges, oldest first. */
  | { kind: 'pieces'; ranges: [Micros, Micros][] }

export interface CutInput {
  lo: Micros
  hi: Micros
  unit: number
  /** The oldest instant the pass saw inside [lo, hi), if any. */
  oldest: Micros | undefined
  /** Distinct records the pass kept. */
  seen: number
  /** Records one pass may take (pages × page size). */
  budget: number
  /** Records a window should hold. */
  target: number
}

/**
 * The records strictly newer than the oldest instant seen are complete; the oldest instant is fetched again whole with
 * the older part (never "oldest − 1 ms", which loses the records sharing that ms). That is done when the rest looks
 * small (at most two budgets in all, judged by the density just seen); a window that looks much larger (after empty
 * stretches the planned width can be days) is re-planned in pieces of about `target` records instead.
 */
export function planCut(c: CutInput): CutPlan {
  const { lo, hi, unit } = c
  const cut = c.oldest === undefined ? undefined : c.oldest + unit
  const estimate = cut === undefined || cut >= hi ? Infinity : (c.seen * (hi - lo)) / (hi - cut)
  if (cut !== undefined && cut > lo && cut < hi && estimate <= 2 * c.budget) return { kind: 'split', cut }
  return piecesOf(lo, hi, unit, estimate, c.target)
}

/** [lo, hi) in pieces of about `target` records each, judged by `estimate` records in all (2 pieces when unknown). */
function piecesOf(lo: Micros, hi: Micros, unit: number, estimate: number, target: number): CutPlan {
  const pieces = Number.isFinite(estimate) ? Math.min(MAX_PIECES, Math.max(2, Math.ceil(estimate / target))) : 2
  const width = Math.max(unit, Math.ceil((hi - lo) / pieces / unit) * unit)
  const ranges: [Micros, Micros][] = []
  for (let a = lo; a < hi; a += width) ranges.push([a, Math.min(hi, a + width)])
  return { kind: 'pieces', ranges }
}

export interface CutOldestFirstInput extends Omit<CutInput, 'oldest'> {
  /** The newest instant the pass saw inside [lo, hi), if any. */
  newest: Micros | undefined
}

/**
 * `planCut` for pages that ran oldest first (an API breaking its contract): the records strictly older than the
 * newest instant seen are complete, the newest instant is fetched again whole with the newer part. Split when the rest
 * looks small, else pieces, as `planCut` does.
 */
export function planCutOldestFirst(c: CutOldestFirstInput): CutPlan {
  const { lo, hi, unit } = c
  const cut = c.newest
  const estimate = cut === undefined || cut <= lo ? Infinity : (c.seen * (hi - lo)) / (cut - lo)
  if (cut !== undefined && cut > lo && cut < hi && estimate <= 2 * c.budget) return { kind: 'split', cut }
  return piecesOf(lo, hi, unit, estimate, c.target)
}
