// First runs on an empty archive honour --lookback and --since; "nothing new" is success (REFERENCE fault 8);
// "now" is real UTC whatever the local zone (fault 12).
import t from 'tap'
import { join } from 'node:path'
import { checkArchive, cliEnv, emulator, readArchive, runCli } from '../helpers.js'

const H = 3_600_000

t.test('--lookback: only the last N of history on a first run', async (t) => {
  const emu = await emulator(t, { counts: { mail: 2000 }, days: 5, seed: 31 })
  const dir = t.testdir()
  const started = Date.now()
  const r = await runCli(['--lookback', '2d', '--no-log-file'], { env: cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail') }), cwd: dir })
  const ended = Date.now()
  t.equal(r.code, 0, r.stderr)
  const archive = readArchive(join(dir, 'mail'), 'mail_audit')
  // The run's "now" lies between started and ended; the check below makes sure no record sits in that gap at the
  // cut, so the expected set is unambiguous.
  const sure = emu.truth('mail', { from: ended - 48 * H })
  const maybe = emu.truth('mail', { from: started - 48 * H })
  t.equal(sure.length, maybe.length, 'no record near the cut')
  t.same(checkArchive('mail', archive, sure), { missing: 0, extra: 0, duplicates: 0, wrongDay: 0, outOfOrder: 0, total: sure.length })
  t.ok(sure.length < 2000 * 0.6 && sure.length > 2000 * 0.2, `a part of the 5 days (${sure.length})`)
})

t.test('--since (an ISO instant) and --until bound the range, inclusive and exclusive', async (t) => {
  const emu = await emulator(t, { counts: { mail: 1500 }, days: 3, seed: 32 })
  const all = emu.truth('mail') as { date: string }[]
  const since = all[400].date
  const until = all[1000].date
  const dir = t.testdir()
  const r = await runCli(['--since', since, '--until', until, '--no-log-file'], { env: cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail') }), cwd: dir })
  t.equal(r.code, 0, r.stderr)
  const want = emu.truth('mail', { from: Date.parse(since), to: Date.parse(until) - 0.001 })
  t.ok(want.length >= 500, `${want.length} records in range`)
  t.same(checkArchive('mail', readArchive(join(dir, 'mail'), 'mail_audit'), want), { missing: 0, extra: 0, duplicates: 0, wrongDay: 0, outOfOrder: 0, total: want.length })
})

t.test('nothing new exits 0, also for an organisation with no events at all', async (t) => {
  const emu = await emulator(t, {})
  const dir = t.testdir()
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail') })
  const r = await runCli(['--no-log-file'], { env, cwd: dir })
  t.equal(r.code, 0, 'an empty result is not an error')
  t.match(r.stderr, /mail: ok, fetched 0 in \d+ pages, wrote 0,/)
  const again = await runCli(['--no-log-file'], { env, cwd: dir })
  t.equal(again.code, 0)
})

t.test('"now" is real UTC: the same archive under TZ=Asia/Vladivostok as under UTC', async (t) => {
  const emu = await emulator(t, { counts: { mail: 800 }, days: 2, seed: 33 })
  const dir = t.testdir()
  const utc = await runCli(['--lookback', '3d', '--no-log-file'], { env: cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'utc') }), cwd: dir })
  const vlad = await runCli(['--lookback', '3d', '--no-log-file'], { env: cliEnv(emu, { TZ: 'Asia/Vladivostok', MAIL_LOG_CATALOG_LOCATION: join(dir, 'vlad') }), cwd: dir })
  t.equal(utc.code, 0)
  t.equal(vlad.code, 0)
  const a = readArchive(join(dir, 'utc'), 'mail_audit')
  const b = readArchive(join(dir, 'vlad'), 'mail_audit')
  t.same([...b.days.keys()], [...a.days.keys()], 'same UTC day files')
  t.same(b.lines, a.lines, 'same lines')
  t.same(checkArchive('mail', b, emu.truth('mail')), { missing: 0, extra: 0, duplicates: 0, wrongDay: 0, outOfOrder: 0, total: 800 }, 'nothing of the last hours is missing (a local-time "now" would lose or shift them)')
})
