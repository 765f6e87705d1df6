// The window planner, pure: next width from the density seen, where a window ends, and how a pass the page budget
// cut short is handled (split at the oldest instant seen, or re-planned in pieces). Tables, no I/O.
import t from 'tap'
import { MAX_WIDTH_US, nextWidth, planCut, windowEnd, type CutInput } from '../../src/sources/planner.js'

const H = 3_600_000_000

t.test('nextWidth: aims at the target, grows at most 4×, within [unit, a week]', async (t) => {
  const cases: [string, number, number, number, number][] = [
    // name, width seen, records seen, target, want
    ['empty: 4× wider', H, 0, 1000, 4 * H],
    ['on target: the same', H, 1000, 1000, H],
    ['twice as dense: half', H, 2000, 1000, H / 2],
    ['ten times sparser: only 4×', H, 100, 1000, 4 * H],
    ['far too dense: one unit at least', 10_000, 1_000_000, 1, 1000],
    ['empty three days: a week at most', 72 * H, 0, 1000, MAX_WIDTH_US],
  ]
  for (const [name, w, n, target, want] of cases) t.equal(nextWidth(5 * H, 5 * H + w, n, target, 1000), want, name)
})

t.test('windowEnd: whole units, at least one, never past `to`', async (t) => {
  t.equal(windowEnd(0, 2600, 1000, 1e9), 3000, 'rounded to whole units')
  t.equal(windowEnd(0, 2400, 1000, 1e9), 2000)
  t.equal(windowEnd(0, 10, 1000, 1e9), 1000, 'at least one unit')
  t.equal(windowEnd(5000, H, 1000, 7000), 7000, 'clamped to to')
  t.equal(windowEnd(7, 3.4, 1, 100), 10, 'µs units')
})

t.test('planCut: split at the oldest instant when the rest looks small, else pieces of about the target', async (t) => {
  const base: CutInput = { lo: 0, hi: 1000, unit: 1, oldest: undefined, seen: 300, budget: 300, target: 150 }
  const cases: { name: string; c: Partial<CutInput>; want: unknown }[] = [
    { name: 'nothing usable seen: halves', c: {}, want: { kind: 'pieces', ranges: [[0, 500], [500, 1000]] } },
    { name: 'all at the newest instant: halves', c: { oldest: 999 }, want: { kind: 'pieces', ranges: [[0, 500], [500, 1000]] } },
    { name: 'rest within two budgets: split after the oldest instant', c: { oldest: 400 }, want: { kind: 'split', cut: 401 } },
    { name: 'oldest at lo: the older part is that one instant', c: { oldest: 0 }, want: { kind: 'split', cut: 1 } },
    { name: 'rest beyond two budgets: pieces of about the target', c: { oldest: 500 }, want: { kind: 'pieces', ranges: [[0, 200], [200, 400], [400, 600], [600, 800], [800, 1000]] } },
  ]
  for (const k of cases) t.same(planCut({ ...base, ...k.c }), k.want, k.name)

  const many = planCut({ ...base, oldest: 990 })
  t.equal(many.kind, 'pieces')
  if (many.kind === 'pieces') {
    t.equal(many.ranges.length, 63, 'at most 64 pieces (width 16 µs over 1000 µs)')
    t.same([many.ranges[0], many.ranges[62]], [[0, 16], [992, 1000]])
  }
  t.same(planCut({ ...base, lo: 0, hi: 10_000, unit: 1000, oldest: 6000, seen: 30, budget: 10, target: 40 }), { kind: 'pieces', ranges: [[0, 4000], [4000, 8000], [8000, 10_000]] }, 'pieces in whole units')
})

t.test('planCut: the pieces always tile [lo, hi) exactly', async (t) => {
  for (const [lo, hi, unit, oldest, seen] of [[0, 1000, 1, 999, 5], [123_000, 9_876_000, 1000, 9_000_000, 9000], [5, 6, 1, undefined, 0]] as const) {
    const p = planCut({ lo, hi, unit, oldest, seen, budget: 100, target: 50 })
    if (p.kind !== 'pieces') {
      t.fail('expected pieces')
      continue
    }
    t.equal(p.ranges[0][0], lo)
    t.equal(p.ranges[p.ranges.length - 1][1], hi)
    t.ok(p.ranges.every(([a, b], i) => a < b && (i === 0 || p.ranges[i - 1][1] === a)), `contiguous, non-empty (${p.ranges.length} pieces)`)
  }
})
