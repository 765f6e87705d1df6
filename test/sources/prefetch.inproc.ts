// Ordered prefetch (`inOrder`): items come strictly in task order; a task that has finished fetching but waits for an
// older one to be emitted gives up its place among those fetching (up to `held` of them wait), so one long task does
// not keep the others idle; new tasks are pulled only when one has finished (planned from what it found), and none
// once a task has failed. Tasks are driven by hand (gates resolved by the test), no timers.
import t from 'tap'
import { inOrder } from '../../src/sources/prefetch.js'

/** A task of `items` whose end waits for `open()`; `started` tells whether inOrder began it. */
interface Gated {
  task: AsyncIterable<string>
  open: () => void
  fail: (err: Error) => void
  readonly started: boolean
}

function gated(items: string[]): Gated {
  let open!: () => void
  let fail!: (err: Error) => void
  const gate = new Promise<void>((res, rej) => {
    open = res
    fail = rej
  })
  const state = { started: false }
  return {
    open: () => open(),
    fail: (err) => fail(err),
    get started() {
      return state.started
    },
    task: (async function* () {
      state.started = true
      await gate
      yield* items
    })(),
  }
}

/** Lets every pending promise callback run (a turn of the event loop). */
const settle = (): Promise<void> => new Promise((res) => setImmediate(res))

/** Pulls tasks from `gs` lazily, counting how many were pulled. */
function lazy(gs: Gated[]): { it: Iterator<AsyncIterable<string>>; pulled: () => number } {
  let n = 0
  const it = (function* () {
    for (const g of gs) {
      n++
      yield g.task
    }
  })()
  return { it, pulled: () => n }
}

/** Collects everything `inOrder` yields, in the background. */
function drain(gen: AsyncGenerator<string>): { got: string[]; done: Promise<unknown> } {
  const got: string[] = []
  const done = (async () => {
    for await (const x of gen) got.push(x)
  })()
  return { got, done }
}

t.test('items in task order, whatever order the tasks finish in', async (t) => {
  const gs = [gated(['a1', 'a2']), gated(['b1']), gated(['c1', 'c2', 'c3'])]
  const { got, done } = drain(inOrder(lazy(gs).it, 3, 0, 4))
  await settle()
  gs[2].open()
  gs[1].open()
  await settle()
  t.same(got, [], 'nothing before the first task has its items')
  gs[0].open()
  await done
  t.same(got, ['a1', 'a2', 'b1', 'c1', 'c2', 'c3'])
})

t.test('a long head task: the tasks finished behind it give up their places, up to `held` of them', async (t) => {
  const gs = Array.from({ length: 8 }, (_, i) => gated([`w${i}`]))
  const { it, pulled } = lazy(gs)
  const { got, done } = drain(inOrder(it, 2, 2, 2))
  await settle()
  t.equal(pulled(), 2, 'two fetching at the start')
  gs[1].open()
  await settle()
  t.equal(pulled(), 3, 'the second finished behind the head: a third starts in its place')
  t.ok(gs[2].started, 'and fetches')
  gs[2].open()
  await settle()
  t.equal(pulled(), 4, 'the third finished: a fourth starts')
  gs[3].open()
  await settle()
  t.equal(pulled(), 4, 'two finished ones wait (held 2) beside two fetching: no fifth while the head pages on')
  t.same(got, [], 'nothing emitted out of order')
  gs[0].open()
  await settle()
  t.same(got, ['w0', 'w1', 'w2', 'w3'], 'the head done: it and the three behind it are emitted')
  t.equal(pulled(), 6, 'two new ones fetching')
  for (const g of gs.slice(4)) g.open()
  await done
  t.same(got, gs.map((_, i) => `w${i}`))
})

t.test('held 0: a finished task keeps its place until it is emitted (the form nested rests use)', async (t) => {
  const gs = Array.from({ length: 4 }, (_, i) => gated([`w${i}`]))
  const { it, pulled } = lazy(gs)
  const { got, done } = drain(inOrder(it, 2, 0, 2))
  await settle()
  gs[1].open()
  await settle()
  t.equal(pulled(), 2, 'no third while the head pages on')
  gs[0].open()
  await settle()
  t.equal(pulled(), 4)
  gs[2].open()
  gs[3].open()
  await done
  t.same(got, ['w0', 'w1', 'w2', 'w3'])
})

t.test('a task that fails: nothing new starts; its error comes after the items before it', async (t) => {
  const gs = Array.from({ length: 6 }, (_, i) => gated([`w${i}`]))
  const { it, pulled } = lazy(gs)
  const got: string[] = []
  const done = (async () => {
    for await (const x of inOrder(it, 2, 2, 2)) got.push(x)
  })()
  await settle()
  gs[1].fail(new Error('401'))
  await settle()
  t.equal(pulled(), 2, 'the failed task frees its place, yet no task starts after it')
  gs[0].open()
  await t.rejects(done, { message: '401' })
  t.same(got, ['w0'], 'the items before the failed task were emitted')
  t.notOk(gs[2].started, 'no request for what comes after')
})

t.test('a stopped run pulls nothing more and ends', async (t) => {
  const gs = Array.from({ length: 4 }, (_, i) => gated([`w${i}`]))
  const { it, pulled } = lazy(gs)
  const ac = new AbortController()
  const { got, done } = drain(inOrder(it, 1, 1, 2, ac.signal))
  await settle()
  gs[0].open()
  await settle()
  t.same(got, ['w0'])
  ac.abort()
  gs[1].open()
  await done
  t.equal(pulled(), 2, 'nothing pulled after the stop')
  t.same(got, ['w0'], 'nothing emitted after the stop')
})

t.test('a consumer busy with an item (a slow write) does not idle a lane; one that stops pulling stops new tasks', async (t) => {
  const gs = Array.from({ length: 8 }, (_, i) => gated([`w${i}`]))
  const { it, pulled } = lazy(gs)
  const gen = inOrder(it, 2, 2, 2)
  const first = gen.next()
  await settle()
  gs[0].open()
  t.same(await first, { value: 'w0', done: false }, 'the first item taken; the consumer now writes it, not pulling')
  await settle()
  t.equal(pulled(), 3, 'the first task ended: a new one started in its place while the consumer was away')
  gs[1].open()
  await settle()
  t.equal(pulled(), 4, 'and again when the next one ended')
  gs[2].open()
  gs[3].open()
  await settle()
  t.equal(pulled(), 4, 'four tasks ended, none fetching: concurrency + held in all, no more until the consumer pulls')
  t.notOk(gs[4].started, 'a consumer that stops pulling stops new tasks (the backpressure)')
  const rest: string[] = []
  for (const g of gs.slice(4)) g.open()
  for (let r = await gen.next(); r.done !== true; r = await gen.next()) rest.push(r.value)
  t.same(rest, gs.slice(1).map((_, i) => `w${i + 1}`))
})
