// Paging against the emulator through the real CLI: offset shifts while paging, bursts of one instant across page
// boundaries, the API's page-depth cap, and a one-millisecond burst bigger than a window's page budget all end exact.
import t from 'tap'
import { join } from 'node:path'
import stableStringify from 'fast-json-stable-stringify'
import { checkArchive, cliEnv, emulator, readArchive, runCli } from '../helpers.js'

const MIN_MS = 60_000

t.test('records arriving while paging (offset shift) and a 210-record burst: exact after the next run', async (t) => {
  // The emulator's clock runs 30 minutes behind, so records it stamps while we page fall inside our last window and
  // push its older records onto later pages (the API's offset tokens shift): they come back as repeats.
  let emuNow = Date.now() - 30 * MIN_MS
  const emu = await emulator(t, { counts: { mail: 3000 }, days: 1, seed: 5, clock: () => emuNow++, switches: { insertPerPage: { source: 'mail', n: 7 } } })
  const dir = t.testdir()
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail') })
  const before = new Set(emu.truth('mail').map((r) => stableStringify(r)))
  const burst = emu.inject('mail', 250, { at: emuNow - 5 * MIN_MS }) // one instant, 2.5 pages, in the last window
  for (const r of burst) before.add(stableStringify(r))

  const first = await runCli(['--lookback', '2d', '--concurrency', '1', '--no-log-file'], { env, cwd: dir })
  t.equal(first.code, 0, first.stderr)
  const truth1 = emu.truth('mail')
  const arrived = truth1.length - before.size
  t.ok(arrived >= 7 * 10, `records arrived while paging (${arrived})`)
  const a1 = readArchive(join(dir, 'mail'), 'mail_audit')
  const c1 = checkArchive('mail', a1, truth1)
  t.same({ ...c1, missing: 0 }, { missing: 0, extra: 0, duplicates: 0, wrongDay: 0, outOfOrder: 0, total: c1.total }, 'no duplicate, nothing foreign, ordered')
  const archived = new Set(a1.lines.map((l) => stableStringify(JSON.parse(l))))
  t.same([...before].filter((k) => !archived.has(k)), [], 'every record that existed when the run started is archived')
  t.match(first.stderr, /mail: ok, fetched \d+ in \d+ pages, wrote \d+, dropped [1-9]\d* duplicates/, 'the shift produced repeats, and they were dropped')

  emu.setSwitches({ insertPerPage: null })
  const second = await runCli(['--no-log-file'], { env, cwd: dir })
  t.equal(second.code, 0, second.stderr)
  const truth2 = emu.truth('mail')
  t.same(checkArchive('mail', readArchive(join(dir, 'mail'), 'mail_audit'), truth2), { missing: 0, extra: 0, duplicates: 0, wrongDay: 0, outOfOrder: 0, total: truth2.length })
})

t.test('page-depth cap of 10 pages: the refused deep token splits the window; exact', async (t) => {
  const emu = await emulator(t, { counts: { mail: 6000, disk: 3000 }, days: 2, seed: 8, switches: { pageDepthCap: 10 } })
  const dir = t.testdir()
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail'), DISK_LOG_CATALOG_LOCATION: join(dir, 'disk') })
  // --max-pages 40 lets windows grow past the API's cap, so the cap (a 400 on page 11) must be handled.
  const r = await runCli(['--lookback', '3d', '--max-pages', '40', '--no-log-file'], { env, cwd: dir })
  t.equal(r.code, 0, r.stderr)
  t.ok((emu.stats().byStatus['400'] ?? 0) >= 1, `the API refused deep tokens (${JSON.stringify(emu.stats().byStatus)})`)
  for (const [s, base, n] of [['mail', 'mail_audit', 6000], ['disk', 'disk_audit', 3000]] as const) {
    t.same(checkArchive(s, readArchive(join(dir, s), base), emu.truth(s)), { missing: 0, extra: 0, duplicates: 0, wrongDay: 0, outOfOrder: 0, total: n }, s)
  }
})

t.test('a burst on one millisecond larger than the page budget lands completely (no "oldest − 1 ms" loss)', async (t) => {
  const emu = await emulator(t, { counts: { mail: 500 }, days: 1, seed: 9 })
  const at = Date.now() - 3 * 3_600_000 + 0.123 // one instant
  const burst = emu.inject('mail', 1234, { at })
  t.equal(new Set(burst.map((r) => (r as { date: string }).date)).size, 1, 'the burst shares one timestamp')
  const dir = t.testdir()
  // 3 pages per window = 300 records: the burst needs 13 pages on one millisecond
  const r = await runCli(['--lookback', '2d', '--max-pages', '3', '--no-log-file'], { env: cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail') }), cwd: dir })
  t.equal(r.code, 0, r.stderr)
  const truth = emu.truth('mail')
  t.equal(truth.length, 1734)
  t.same(checkArchive('mail', readArchive(join(dir, 'mail'), 'mail_audit'), truth), { missing: 0, extra: 0, duplicates: 0, wrongDay: 0, outOfOrder: 0, total: 1734 })
})
