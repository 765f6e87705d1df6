// Paging against the emulator through the fetch command (in-process): offset shifts while paging, bursts of one
// instant across page boundaries, the API's page-depth cap, and a one-millisecond burst bigger than a window's page
// budget all end exact.
import t from 'tap'
import { join } from 'node:path'
import stableStringify from 'fast-json-stable-stringify'
import { checkArchive, cliEnv, emulator, exact, fakeClock, readArchive, runMain, summaryOf } from '../helpers.js'

const MIN_MS = 60_000

t.test('records arriving while paging (offset shift) and a 210-record burst: exact after the next run', async (t) => {
  // The emulator's clock runs 30 minutes behind, so records it stamps while we page fall inside our last window and
  // push its older records onto later pages (the API's offset tokens shift): they would come back as repeats.
  const now = fakeClock(Date.UTC(2026, 9, 20, 12, 0, 0)).now // the run's clock stands still
  const emuClock = fakeClock(now() - 30 * MIN_MS, 1) // 30 minutes behind, 1 ms further at each reading
  const emu = await emulator(t, { counts: { mail: 1500 }, days: 1, seed: 5, clock: emuClock.now, switches: { insertPerPage: { source: 'mail', n: 7 } } })
  const dir = t.testdir()
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail') })
  const before = new Set(emu.truth('mail').map((r) => stableStringify(r)))
  const burst = emu.inject('mail', 250, { at: emuClock.now() - 5 * MIN_MS }) // one instant, 2.5 pages, in the last window
  for (const r of burst) before.add(stableStringify(r))

  const first = await runMain(['--lookback', '2d', '--concurrency', '1', '--no-log-file'], { env, cwd: dir, now, summary: true })
  t.equal(first.code, 0, first.stderr)
  const truth1 = emu.truth('mail')
  const arrived = truth1.length - before.size
  t.ok(arrived >= 7 * 10, `records arrived while paging (${arrived})`)
  const a1 = readArchive(join(dir, 'mail'), 'mail_audit')
  const c1 = checkArchive('mail', a1, truth1)
  t.same({ ...c1, missing: 0 }, { missing: 0, extra: 0, duplicates: 0, wrongDay: 0, outOfOrder: 0, total: c1.total }, 'no duplicate, nothing foreign, ordered')
  const archived = new Set(a1.lines.map((l) => stableStringify(JSON.parse(l))))
  t.same([...before].filter((k) => !archived.has(k)), [], 'every record that existed when the run started is archived')
  const s1 = summaryOf(first, 'mail')
  // The newest page is read alone (the first round trip); the windows after it end before the arrivals, so the shift
  // can only bring repeats while paging through the burst. Whatever came twice is counted, and the counters reconcile.
  t.equal(s1.fetched, s1.written + s1.duplicates + s1.rejected + (s1.refetched ?? 0) + (s1.neighbours ?? 0), `fetched = written + duplicates (${s1.duplicates}) + refetched + neighbours`)
  t.equal(s1.written, c1.total, 'written = lines in the archive')

  emu.setSwitches({ insertPerPage: null })
  const second = await runMain(['--no-log-file'], { env, cwd: dir, now })
  t.equal(second.code, 0, second.stderr)
  const truth2 = emu.truth('mail')
  t.same(checkArchive('mail', readArchive(join(dir, 'mail'), 'mail_audit'), truth2), exact(truth2.length))
})

t.test('page-depth cap of 10 pages: the refused deep token splits the window; exact', async (t) => {
  const emu = await emulator(t, { counts: { mail: 2500, disk: 1500 }, days: 1, seed: 8, switches: { pageDepthCap: 10 } })
  const dir = t.testdir()
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail'), DISK_LOG_CATALOG_LOCATION: join(dir, 'disk') })
  // --max-pages 40 lets windows grow past the API's cap: with one lane, the windows after the probe aim at 32 pages
  // (none is made a lane's share of the end: one lane has it all), so the cap (a 400 on page 11) is hit and must be
  // handled.
  const r = await runMain(['--lookback', '3d', '--max-pages', '40', '--concurrency', '1', '--no-log-file'], { env, cwd: dir })
  t.equal(r.code, 0, r.stderr)
  t.ok((emu.stats().byStatus['400'] ?? 0) >= 1, `the API refused deep tokens (${JSON.stringify(emu.stats().byStatus)})`)
  for (const [s, base, n] of [['mail', 'mail_audit', 2500], ['disk', 'disk_audit', 1500]] as const) {
    t.same(checkArchive(s, readArchive(join(dir, s), base), emu.truth(s)), exact(n), s)
  }
})

t.test('a burst on one millisecond larger than the page budget lands completely (no "oldest − 1 ms" loss)', async (t) => {
  const emu = await emulator(t, { counts: { mail: 100 }, days: 1, seed: 9 })
  const at = Date.now() - 3 * 3_600_000 + 0.123 // one instant
  const burst = emu.inject('mail', 1234, { at })
  t.equal(new Set(burst.map((r) => (r as { date: string }).date)).size, 1, 'the burst shares one timestamp')
  const dir = t.testdir()
  // 3 pages per window = 300 records: the burst needs 13 pages on one millisecond
  const r = await runMain(['--lookback', '2d', '--max-pages', '3', '--no-log-file'], { env: cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail') }), cwd: dir })
  t.equal(r.code, 0, r.stderr)
  const truth = emu.truth('mail')
  t.equal(truth.length, 1334)
  t.same(checkArchive('mail', readArchive(join(dir, 'mail'), 'mail_audit'), truth), exact(1334))
})
