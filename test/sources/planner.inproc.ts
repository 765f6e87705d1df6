// The window planner, pure: the slices of the first round trip, next width from the density seen, where a window
// ends, and how a pass the page budget cut short is handled (kept up to the oldest instant seen, the rest planned by
// its density, or fetched again when nothing can be kept). Tables, no I/O.
import t from 'tap'
import { MAX_WIDTH_US, nextWidth, planCut, planCutOldestFirst, probeSlices, tailShare, windowEnd, type CutInput, type CutOldestFirstInput } from '../../src/sources/planner.js'

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

t.test('tailShare: the full target while every lane has a window of it left, then a lane\'s share, never below the floor', async (t) => {
  const cases: [string, number, number, number, number, number][] = [
    // name, remaining, lanes, target, floor, want
    ['far from the end: the target', 100_000, 8, 800, 360, 800],
    ['a window per lane left: still the target', 6400, 8, 800, 360, 800],
    ['less: each lane its share', 4000, 8, 800, 360, 500],
    ['near the end: the floor', 1000, 8, 800, 360, 360],
    ['nothing estimated left (the density was wrong): the floor', -500, 8, 800, 360, 360],
    ['a floor above the target: the target', 100, 8, 300, 360, 300],
    ['no lanes given: as one', 500, 0, 800, 100, 500],
  ]
  for (const [name, remaining, lanes, target, floor, want] of cases) t.equal(tailShare(remaining, lanes, target, floor), want, name)
})

t.test('probeSlices: up to `concurrency` slices of whole units tiling the range, none narrower than an hour', async (t) => {
  const D = 24 * H
  const cases: [string, number, number, number, number, [number, number][]][] = [
    // name, from, to, concurrency, unit, want
    ['90 days in 8', 0, 90 * D, 8, 1000, Array.from({ length: 8 }, (_, i) => [i * 11.25 * D, Math.min(90 * D, (i + 1) * 11.25 * D)])],
    ['minutes: one slice (one request for a short incremental run)', 5, 5 + 10 * 60_000_000, 8, 1000, [[5, 5 + 10 * 60_000_000]]],
    ['three hours: three slices', 0, 3 * H, 8, 1000, [[0, H], [H, 2 * H], [2 * H, 3 * H]]],
    ['concurrency 1: the whole range', 0, 30 * D, 1, 1000, [[0, 30 * D]]],
    ['empty range: nothing', 7, 7, 8, 1, []],
    ['whole units, the last slice shorter', 0, 10 * H + 1, 4, 1000, [[0, 2.5 * H + 1000], [2.5 * H + 1000, 5 * H + 2000], [5 * H + 2000, 7.5 * H + 3000], [7.5 * H + 3000, 10 * H + 1]]],
  ]
  for (const [name, from, to, conc, unit, want] of cases) t.same(probeSlices(from, to, conc, unit), want, name)
})

t.test('planCut: keeps every page after the oldest instant seen; the rest is planned by the density seen', async (t) => {
  const base: CutInput = { lo: 0, hi: 1000, unit: 1, oldest: undefined, seen: 300, target: 150 }
  const cases: { name: string; c: Partial<CutInput>; want: unknown }[] = [
    { name: 'nothing usable seen: again in halves', c: {}, want: { kind: 'again', width: 500 } },
    { name: 'all at the newest instant: again, first all but that instant, then the instant alone', c: { oldest: 999 }, want: { kind: 'again', width: 999 } },
    { name: '300 records over [401, 1000): windows of 150 records are 299.5 µs wide', c: { oldest: 400 }, want: { kind: 'split', cut: 401, width: 299.5 } },
    { name: 'oldest at lo: the rest is that one instant', c: { oldest: 0 }, want: { kind: 'split', cut: 1, width: 499.5 } },
    { name: 'a dense pass: the rest is planned narrow (at least one unit)', c: { oldest: 998, seen: 1_000_000 }, want: { kind: 'split', cut: 999, width: 1 } },
    { name: 'far more than the budget seen (a window planned days wide): still kept, never thrown away', c: { oldest: 500, seen: 5000 }, want: { kind: 'split', cut: 501, width: 14.97 } },
  ]
  for (const k of cases) t.same(planCut({ ...base, ...k.c }), k.want, k.name)
  t.same(planCut({ lo: 0, hi: 10_000, unit: 1000, oldest: 6000, seen: 30, target: 40 }), { kind: 'split', cut: 7000, width: 4000 }, 'whole units')
  t.same(planCut({ lo: 0, hi: 365 * 24 * H, unit: 1000, oldest: 24 * H, seen: 1, target: 1000 }), { kind: 'split', cut: 24 * H + 1000, width: MAX_WIDTH_US }, 'a week at most')
})

t.test('planCutOldestFirst: keeps every page before the newest instant seen', async (t) => {
  const base: CutOldestFirstInput = { lo: 0, hi: 1000, unit: 1, newest: undefined, seen: 300, target: 150 }
  t.same(planCutOldestFirst(base), { kind: 'again', width: 500 }, 'nothing seen: again in halves')
  t.same(planCutOldestFirst({ ...base, newest: 0 }), { kind: 'again', width: 500 }, 'all at lo: again in halves')
  t.same(planCutOldestFirst({ ...base, newest: 600 }), { kind: 'split', cut: 600, width: 300 }, 'keeps [0, 600), the rest in windows of 150 records')
})
