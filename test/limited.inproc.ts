// Bounded concurrency (src/limited.ts): at most n calls at once, outcomes in the items' order whatever order the calls
// end in, a rejection neither stops the other calls nor is thrown before they all settled.
import t from 'tap'
import { mapLimited, settleLimited } from '../src/limited.js'

/** Calls that each wait for a gate of their own; `release` opens the newest gate first, one per turn of the loop. */
function gated<R>(value: (n: number) => R | Error) {
  let running = 0
  let peak = 0
  let started = 0
  const gates: (() => void)[] = []
  const fn = async (n: number): Promise<R> => {
    running++
    started++
    peak = Math.max(peak, running)
    await new Promise<void>((r) => gates.push(r))
    running--
    const v = value(n)
    if (v instanceof Error) throw v
    return v
  }
  const release = async (): Promise<void> => {
    while (gates.length > 0 || running > 0) {
      await new Promise((r) => setImmediate(r))
      gates.pop()?.()
    }
  }
  return { fn, release, peak: () => peak, started: () => started }
}

t.test('at most `concurrency` at once; values in the items order though the calls end newest first', async (t) => {
  const g = gated((n) => n * 10)
  const done = mapLimited([1, 2, 3, 4, 5], 2, g.fn)
  await g.release()
  t.same(await done, [10, 20, 30, 40, 50])
  t.equal(g.peak(), 2)
})

t.test('a rejection: every other call still runs; mapLimited throws the first in the items order, settleLimited keeps each', async (t) => {
  const g = gated((n) => (n === 2 || n === 4 ? new Error(`no ${n}`) : n))
  const done = settleLimited([1, 2, 3, 4, 5], 3, g.fn)
  await g.release()
  t.same(await done, [
    { status: 'fulfilled', value: 1 },
    { status: 'rejected', reason: new Error('no 2') },
    { status: 'fulfilled', value: 3 },
    { status: 'rejected', reason: new Error('no 4') },
    { status: 'fulfilled', value: 5 },
  ])
  t.equal(g.started(), 5, 'all five ran')
  t.equal(g.peak(), 3)
  const m = gated((n) => (n >= 2 ? new Error(`no ${n}`) : n))
  const failing = t.rejects(mapLimited([1, 2, 3], 1, m.fn), new Error('no 2'), 'the first rejection in the items order')
  await m.release()
  await failing
  t.equal(m.started(), 3, 'the call after it ran too')
})

t.test('no items: no call; a concurrency under one still runs them one at a time', async (t) => {
  t.same(await mapLimited([], 4, async () => { throw new Error('called') }), [])
  const g = gated((n) => n)
  const done = mapLimited([1, 2, 3], 0, g.fn)
  await g.release()
  t.same(await done, [1, 2, 3])
  t.equal(g.peak(), 1)
})
