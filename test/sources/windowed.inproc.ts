// windowedSource in-process against the emulator: contiguous half-open windows, ascending µs order, every record of
// the range exactly once, also when the API's depth cap and the page budget force splits inside µs-dense data.
import t from 'tap'
import pino from 'pino'
import stableStringify from 'fast-json-stable-stringify'
import { ApiClient } from '../../src/sources/client.js'
import { ENDPOINTS } from '../../src/sources/index.js'
import { HostLimiter } from '../../src/sources/limiter.js'
import { recordText, SourceStats, type WindowBatch } from '../../src/messages.js'
import { windowedSource } from '../../src/sources/windowed.js'
import { emulator } from '../helpers.js'

const log = pino({ level: 'silent' })

for (const [name, switches, maxPages] of [['page budget 2', {}, 2], ['depth cap 3 below a budget of 20', { pageDepthCap: 3 }, 20]] as const) {
  t.test(`events, ${name}: exact, contiguous, ascending`, async (t) => {
    const end = Date.UTC(2026, 10, 20)
    const emu = await emulator(t, { counts: { events: 3000 }, days: 2, end, clock: () => end, switches })
    const client = new ApiClient({ token: emu.token, retries: 0, retryBaseMs: 1, retryMaxMs: 1, maxWaitMs: 0, timeoutMs: 10_000, connectTimeoutMs: 1000, log })
    t.teardown(() => client.close())
    const from = (end - 3 * 86_400_000) * 1000
    const to = end * 1000 + 1
    const batches: WindowBatch[] = []
    for await (const b of windowedSource({ ep: ENDPOINTS.events, client, limiter: new HostLimiter({ maxRps: 0 }), baseUrl: emu.url, org: emu.org, filters: {}, from, to, pageSize: 100, maxPages, concurrency: 3, targetRecords: 150, log, stats: new SourceStats() })) batches.push(b)
    t.equal(batches[0].lo, from, 'starts at from')
    t.equal(batches[batches.length - 1].hi, to, 'ends at to')
    let prev = -Infinity
    let disorder = 0
    for (let i = 0; i < batches.length; i++) {
      if (i > 0 && batches[i].lo !== batches[i - 1].hi) t.fail(`gap or overlap between windows ${i - 1} and ${i}`)
      for (const r of batches[i].records) {
        if (r.us < prev || r.us < batches[i].lo || r.us >= batches[i].hi) disorder++
        prev = r.us
      }
    }
    t.equal(disorder, 0, 'every record inside its window, ascending')
    const got = batches.flatMap((b) => b.records.map((r) => stableStringify(JSON.parse(recordText(r)))))
    const want = emu.truth('events').map((r) => stableStringify(r))
    t.equal(got.length, 3000, 'each record once')
    t.same(got.sort(), want.sort(), 'the ground truth')
    if ('pageDepthCap' in switches) t.ok((emu.stats().byStatus['400'] ?? 0) > 0, 'the cap was hit and handled')
  })
}

t.test('a dense stretch after empty days: kept page by page (nothing thrown away), all passes within --concurrency', async (t) => {
  const end = Date.UTC(2026, 10, 20)
  // Six empty days, then two dense ones: the probe slices over the dense days are cut by the page budget, keep their
  // pages and plan their rest by the density they saw while other windows are in flight.
  const emu = await emulator(t, { counts: { mail: 6000 }, days: 2, end, clock: () => end, faults: { latencyMs: 5 } })
  const client = new ApiClient({ token: emu.token, retries: 0, retryBaseMs: 1, retryMaxMs: 1, maxWaitMs: 0, timeoutMs: 10_000, connectTimeoutMs: 1000, log })
  t.teardown(() => client.close())
  const concurrency = 2
  const stats = new SourceStats()
  let n = 0
  for await (const b of windowedSource({ ep: ENDPOINTS.mail, client, limiter: new HostLimiter({ maxRps: 0 }), baseUrl: emu.url, org: emu.org, filters: {}, from: (end - 8 * 86_400_000) * 1000, to: end * 1000 + 1000, pageSize: 100, maxPages: 4, concurrency, targetRecords: 320, log, stats })) n += b.records.length
  t.equal(n, 6000, 'every record once')
  t.ok(stats.refetched <= 20, `only the cut instants re-read (${stats.refetched} records)`)
  t.ok(stats.pages <= 1.1 * 60 + 10, `requests within 1.1 × the 60 pages the data needs + 10 (${stats.pages})`)
  t.ok(emu.stats().peakConcurrency <= concurrency, `at most ${concurrency} requests at once, nested rests included (peak ${emu.stats().peakConcurrency})`)
  t.ok(emu.stats().peakConcurrency > 1, 'windows were fetched concurrently')
})

t.test('the first round trip uses the concurrency: one request per slice, all at once', async (t) => {
  const end = Date.UTC(2026, 10, 20)
  // 30 days of data in a 90-day lookback, a few records: each of the 8 probe slices ends on its first page.
  const emu = await emulator(t, { counts: { mail: 40 }, days: 30, end, clock: () => end, faults: { latencyMs: 5 } })
  const client = new ApiClient({ token: emu.token, retries: 0, retryBaseMs: 1, retryMaxMs: 1, maxWaitMs: 0, timeoutMs: 10_000, connectTimeoutMs: 1000, log })
  t.teardown(() => client.close())
  const stats = new SourceStats()
  // Each request is held at the limiter until eight are waiting there: only a source that asks all eight slices
  // before any answer gets past it (one after the other, the first would wait for ever), whatever the machine's speed.
  const held: (() => void)[] = []
  let together = false
  class Barrier extends HostLimiter {
    override async acquire(signal?: AbortSignal): Promise<number> {
      const at = await super.acquire(signal)
      if (together) return at
      await new Promise<void>((resolve) => {
        held.push(resolve)
        if (held.length === 8) {
          together = true
          for (const r of held.splice(0)) r()
        }
      })
      return at
    }
  }
  let n = 0
  for await (const b of windowedSource({ ep: ENDPOINTS.mail, client, limiter: new Barrier({ maxRps: 0 }), baseUrl: emu.url, org: emu.org, filters: {}, from: (end - 90 * 86_400_000) * 1000, to: end * 1000 + 1000, pageSize: 100, maxPages: 10, concurrency: 8, targetRecords: 500, log, stats })) n += b.records.length
  t.equal(n, 40)
  t.equal(stats.pages, 8, 'eight slices, one page each')
  t.ok(together, 'all eight at once (each had its request waiting at the same time)')
})

// Every record received lands in exactly one counter, whatever the API does: kept (yielded), rejected, a repeat inside
// its window, a neighbour window's, excluded by the filters, or fetched again by another pass.
const cases: [string, object, object, Record<string, unknown>][] = [
  ['budget cuts in dense data', {}, {}, {}],
  ['offset shifts while paging (repeats)', { insertPerPage: { source: 'events', n: 3 } }, {}, {}],
  ['pages oldest first', { pagesOldestFirst: ['events'] }, {}, {}],
  ['filters ignored', { ignoreFilters: ['events'] }, {}, { types: ['id_password.login'] }],
  ['records without a timestamp', {}, { missingTimestamp: 0.05 }, {}],
  ['exclusive bounds', { afterDateInclusive: false, beforeDateInclusive: false }, {}, {}],
]
for (const [name, switches, faults, filters] of cases) {
  t.test(`counters reconcile: ${name}`, async (t) => {
    const end = Date.UTC(2026, 10, 20)
    const emu = await emulator(t, { counts: { events: 1500 }, days: 1, end, clock: () => end, switches, faults })
    const client = new ApiClient({ token: emu.token, retries: 0, retryBaseMs: 1, retryMaxMs: 1, maxWaitMs: 0, timeoutMs: 10_000, connectTimeoutMs: 1000, log })
    t.teardown(() => client.close())
    const stats = new SourceStats()
    let kept = 0
    let rejected = 0
    for await (const b of windowedSource({ ep: ENDPOINTS.events, client, limiter: new HostLimiter({ maxRps: 0 }), baseUrl: emu.url, org: emu.org, filters, from: (end - 2 * 86_400_000) * 1000, to: end * 1000 + 1, pageSize: 100, maxPages: 2, concurrency: 3, targetRecords: 150, log, stats, now: () => end })) {
      kept += b.records.length
      rejected += b.rejected.length
    }
    stats.written = kept
    stats.rejected = rejected
    t.ok(stats.fetched > 0)
    t.equal(stats.unaccounted, 0, `fetched ${stats.fetched} = kept ${kept} + rejected ${rejected} + repeats ${stats.repeats} + refetched ${stats.refetched} + neighbours ${stats.neighbours} + filtered ${stats.filtered}`)
  })
}

t.test('the end of the plan is split finer: the last windows hold a lane\'s share, so the lanes end together', async (t) => {
  const end = Date.UTC(2026, 10, 20)
  // 8,000 records spread over 10 days, 4 lanes, windows aiming at 800 records: the middle of the plan is fetched in
  // windows of about 800; once less than a window per lane is left, each window takes its lane's share of what is
  // left, down to the floor (3.6 pages), instead of a last full window paging on alone while the other lanes idle.
  const emu = await emulator(t, { counts: { mail: 8000 }, days: 10, end, clock: () => end })
  const client = new ApiClient({ token: emu.token, retries: 0, retryBaseMs: 1, retryMaxMs: 1, maxWaitMs: 0, timeoutMs: 10_000, connectTimeoutMs: 1000, log })
  t.teardown(() => client.close())
  const stats = new SourceStats()
  const sizes: number[] = []
  for await (const b of windowedSource({ ep: ENDPOINTS.mail, client, limiter: new HostLimiter({ maxRps: 0 }), baseUrl: emu.url, org: emu.org, filters: {}, from: (end - 10 * 86_400_000) * 1000, to: end * 1000 + 1000, pageSize: 100, maxPages: 10, concurrency: 4, targetRecords: 800, log, stats })) sizes.push(b.records.length)
  t.equal(sizes.reduce((a, n) => a + n, 0), 8000, 'every record once')
  // The newest batch is the part the newest probe slice kept (its first page); the windows of that slice's rest come
  // before it, and the plan ends with them.
  const windows = sizes.slice(0, -1)
  const last = windows.slice(-4)
  t.ok(Math.max(...windows) >= 700, `before the end, windows near the target (${windows.join(', ')})`)
  t.ok(last.every((n) => n <= 520), `the last four windows hold a lane's share at most (${last.join(', ')})`)
  t.ok(stats.pages <= 1.1 * 80 + 10, `requests within 1.1 × the 80 pages the data needs + 10 (${stats.pages})`)
})
