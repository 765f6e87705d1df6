// windowedSource in-process against the emulator: contiguous half-open windows, ascending µs order, every record of
// the range exactly once, also when the API's depth cap and the page budget force splits inside µs-dense data.
import t from 'tap'
import pino from 'pino'
import stableStringify from 'fast-json-stable-stringify'
import { ApiClient } from '../../src/sources/client.js'
import { ENDPOINTS } from '../../src/sources/index.js'
import { HostLimiter } from '../../src/sources/limiter.js'
import { SourceStats, type WindowBatch } from '../../src/messages.js'
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
    const got = batches.flatMap((b) => b.records.map((r) => stableStringify(JSON.parse(r.line))))
    const want = emu.truth('events').map((r) => stableStringify(r))
    t.equal(got.length, 3000, 'each record once')
    t.same(got.sort(), want.sort(), 'the ground truth')
    if ('pageDepthCap' in switches) t.ok((emu.stats().byStatus['400'] ?? 0) > 0, 'the cap was hit and handled')
  })
}

t.test('windows planned too wide after an empty stretch are re-planned, and all passes stay within --concurrency', async (t) => {
  const end = Date.UTC(2026, 10, 20)
  // Six empty days, then two dense ones: widths grow 4× per empty window, so the first dense windows are planned days
  // wide and re-planned in pieces while other windows are in flight.
  const emu = await emulator(t, { counts: { mail: 6000 }, days: 2, end, clock: () => end, faults: { latencyMs: 5 } })
  const client = new ApiClient({ token: emu.token, retries: 0, retryBaseMs: 1, retryMaxMs: 1, maxWaitMs: 0, timeoutMs: 10_000, connectTimeoutMs: 1000, log })
  t.teardown(() => client.close())
  const messages: string[] = []
  const capture = pino({ level: 'debug' }, { write: (line: string) => messages.push((JSON.parse(line) as { msg: string }).msg) })
  const concurrency = 2
  let n = 0
  for await (const b of windowedSource({ ep: ENDPOINTS.mail, client, limiter: new HostLimiter({ maxRps: 0 }), baseUrl: emu.url, org: emu.org, filters: {}, from: (end - 8 * 86_400_000) * 1000, to: end * 1000 + 1000, pageSize: 100, maxPages: 4, concurrency, targetRecords: 200, log: capture, stats: new SourceStats() })) n += b.records.length
  t.equal(n, 6000, 'every record once')
  t.ok(messages.some((m) => m.includes('re-planning the window')), 'a window planned too wide was re-planned in pieces')
  t.ok(emu.stats().peakConcurrency <= concurrency, `at most ${concurrency} requests at once, nested pieces included (peak ${emu.stats().peakConcurrency})`)
  t.ok(emu.stats().peakConcurrency > 1, 'windows were fetched concurrently')
})
