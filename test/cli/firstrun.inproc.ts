// First runs on an empty archive honour --lookback and --since; "nothing new" is success (REFERENCE fault 8);
// "now" is real UTC whatever the local zone (fault 12). In-process (runMain) except the local-zone case, which needs a
// process started under another TZ.
import t from 'tap'
import { join } from 'node:path'
import { checkArchive, cliEnv, emulator, exact, fakeClock, readArchive, runCli, runMain, summaryOf } from '../helpers.js'

const H = 3_600_000

t.test('--lookback: only the last N of history on a first run', async (t) => {
  // One fixed "now" for the run and the emulator: the cut at now − 2d is exact.
  const clock = fakeClock(Date.UTC(2026, 9, 20, 15, 41, 7, 123))
  const emu = await emulator(t, { counts: { mail: 1000 }, days: 5, seed: 31, clock: clock.now })
  const dir = t.testdir()
  const r = await runMain(['--lookback', '2d', '--no-log-file'], { env: cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail') }), cwd: dir, now: clock.now })
  t.equal(r.code, 0, r.stderr)
  const archive = readArchive(join(dir, 'mail'), 'mail_audit')
  const want = emu.truth('mail', { from: clock.now() - 48 * H })
  t.same(checkArchive('mail', archive, want), exact(want.length))
  t.ok(want.length < 1000 * 0.6 && want.length > 1000 * 0.2, `a part of the 5 days (${want.length})`)
})

t.test('--since (an ISO instant) and --until bound the range, inclusive and exclusive', async (t) => {
  const emu = await emulator(t, { counts: { mail: 900 }, days: 3, seed: 32 })
  const all = emu.truth('mail') as { date: string }[]
  const since = all[200].date
  const until = all[700].date
  const dir = t.testdir()
  const r = await runMain(['--since', since, '--until', until, '--no-log-file'], { env: cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail') }), cwd: dir })
  t.equal(r.code, 0, r.stderr)
  const want = emu.truth('mail', { from: Date.parse(since), to: Date.parse(until) - 0.001 })
  t.ok(want.length >= 400, `${want.length} records in range`)
  t.same(checkArchive('mail', readArchive(join(dir, 'mail'), 'mail_audit'), want), exact(want.length))
  t.equal(JSON.stringify(all[200]), readArchive(join(dir, 'mail'), 'mail_audit').lines[0], '--since is inclusive: the record at it comes first')
})

t.test('nothing new exits 0, also for an organisation with no events at all', async (t) => {
  const emu = await emulator(t, {})
  const dir = t.testdir()
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail') })
  const r = await runMain(['--no-log-file'], { env, cwd: dir, summary: true })
  t.equal(r.code, 0, 'an empty result is not an error')
  t.match(summaryOf(r, 'mail'), { ok: true, fetched: 0, written: 0 })
  t.ok(summaryOf(r, 'mail').pages >= 1, 'the API was asked')
  const again = await runMain(['--no-log-file'], { env, cwd: dir, summary: true })
  t.equal(again.code, 0)
  t.match(summaryOf(again, 'mail'), { ok: true, fetched: 0, written: 0 })
})

t.test('"now" is real UTC: the same archive under TZ=Asia/Vladivostok as under UTC', async (t) => {
  const emu = await emulator(t, { counts: { mail: 300 }, days: 2, seed: 33 })
  const dir = t.testdir()
  const utc = await runMain(['--lookback', '3d', '--no-log-file'], { env: cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'utc') }), cwd: dir })
  const vlad = await runCli(['--lookback', '3d', '--no-log-file'], { env: cliEnv(emu, { TZ: 'Asia/Vladivostok', MAIL_LOG_CATALOG_LOCATION: join(dir, 'vlad') }), cwd: dir })
  t.equal(utc.code, 0)
  t.equal(vlad.code, 0)
  const a = readArchive(join(dir, 'utc'), 'mail_audit')
  const b = readArchive(join(dir, 'vlad'), 'mail_audit')
  t.same([...b.days.keys()], [...a.days.keys()], 'same UTC day files')
  t.same(b.lines, a.lines, 'same lines')
  t.same(checkArchive('mail', b, emu.truth('mail')), exact(300), 'nothing of the last hours is missing (a local-time "now" would lose or shift them)')
})
