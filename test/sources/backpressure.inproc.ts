// windowedSource: batches come strictly in time order, and fetching stops while nobody pulls (backpressure).
import t from 'tap'
import { setImmediate as tick } from 'node:timers/promises'
import pino from 'pino'
import { ApiClient } from '../../src/sources/client.js'
import { ENDPOINTS } from '../../src/sources/index.js'
import { HostLimiter } from '../../src/sources/limiter.js'
import { SourceStats, type WindowBatch } from '../../src/messages.js'
import { windowedSource } from '../../src/sources/windowed.js'
import { emulator } from '../helpers.js'

const log = pino({ level: 'silent' })

async function settled(emu: { stats(): { inFlight: number } }): Promise<void> {
  // Let in-flight requests finish: event-loop turns, not time.
  for (let i = 0; i < 100_000 && emu.stats().inFlight > 0; i++) await tick()
  for (let i = 0; i < 200; i++) await tick()
}

t.test('nothing is fetched beyond the windows in flight while the consumer does not pull', async (t) => {
  const end = Date.UTC(2026, 10, 20)
  const emu = await emulator(t, { counts: { mail: 20_000 }, days: 7, end, clock: () => end })
  const client = new ApiClient({ token: emu.token, retries: 0, retryBaseMs: 1, retryMaxMs: 1, maxWaitMs: 0, timeoutMs: 10_000, connectTimeoutMs: 1000, log })
  t.teardown(() => client.close())
  const concurrency = 3
  const maxPages = 5
  const gen = windowedSource({
    ep: ENDPOINTS.mail, client, limiter: new HostLimiter({ maxRps: 0 }), baseUrl: emu.url, org: emu.org, filters: {},
    from: (end - 8 * 86_400_000) * 1000, to: end * 1000 + 1000, pageSize: 100, maxPages, concurrency, targetRecords: 250, log, stats: new SourceStats(),
  })
  const first = await gen.next()
  t.notOk(first.done)
  await settled(emu)
  const pagesAfterOne = emu.stats().pagesServed
  t.ok(pagesAfterOne <= concurrency * (maxPages + 1) * 2, `only the windows in flight were fetched (${pagesAfterOne} pages)`)
  await settled(emu)
  t.equal(emu.stats().pagesServed, pagesAfterOne, 'no request while the consumer does not pull')

  // Drain the rest: batches ascend, do not overlap, and add up to the ground truth.
  const batches: WindowBatch[] = [first.value as WindowBatch]
  for await (const b of { [Symbol.asyncIterator]: () => gen }) batches.push(b)
  let count = 0
  let prevHi = batches[0].lo
  let prevUs = -Infinity
  for (const b of batches) {
    t.equal(b.lo, prevHi, 'windows are contiguous')
    prevHi = b.hi
    for (const r of b.records) {
      if (r.us < prevUs) t.fail('records ascend across batches')
      prevUs = r.us
    }
    count += b.records.length
  }
  t.equal(count, 20_000, 'every record once')
  t.ok(emu.stats().pagesServed > pagesAfterOne * 3, 'the rest was fetched only when pulled')
})
