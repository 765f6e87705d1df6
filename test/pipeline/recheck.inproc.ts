// The re-check before sealing: a closed day is asked of the API again just before its seal, and late arrivals (records
// that reached the API after the runs that covered their time, far beyond the overlap) are merged in, counted in the
// summary and the metrics; the archive then equals the ground truth and verify passes. --no-recheck seals the day as
// it is, and reconcile repairs it later (resealing it).
import t, { type Test } from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { checkArchive, cliEnv, emulator, exact, fakeClock, lastNoonUtc, readArchive, runMain, summaryOf } from '../helpers.js'

const HOUR = 3_600_000
const OVERLAP_US = 120_000_000

/** A first run half an hour after midnight (yesterday not sealed yet: --seal-settle 1h), then late arrivals into yesterday. */
async function setup(t: Test, seed: number) {
  const midnight = lastNoonUtc() - 12 * HOUR
  const clock = fakeClock(midnight + HOUR / 2)
  const emu = await emulator(t, { clock: clock.now, counts: { mail: 300 }, days: 3, end: clock.now(), seed })
  const dir = t.testdir()
  const mailDir = join(dir, 'mail')
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: mailDir })
  const first = await runMain(['--lookback', '4d'], { env, cwd: dir, now: clock.now, summary: true })
  t.equal(first.code, 0, 'first run')
  t.equal(summaryOf(first, 'mail').recheck, undefined, 'days the first run fetched whole are not asked again')
  const yesterday = new Date(midnight - HOUR).toISOString().slice(0, 10)
  t.notMatch(readFileSync(join(mailDir, 'mail_audit.manifest.jsonl'), 'utf8'), yesterday, 'yesterday is not sealed yet')
  const late = emu.late('mail', 5, { from: midnight - 20 * HOUR, to: midnight - 6 * HOUR }) as { date: string }[]
  clock.set(midnight + 2 * HOUR) // yesterday is closed now
  return { emu, clock, dir, mailDir, env, yesterday, late, midnight }
}

t.test('the re-check finds late arrivals of a day before sealing it and merges them in', async (t) => {
  const { emu, clock, dir, mailDir, env, yesterday, late, midnight } = await setup(t, 11)
  const metrics = join(dir, 'y360.prom')
  const second = await runMain(['--metrics-file', metrics], { env, cwd: dir, now: clock.now, summary: true })
  t.equal(second.code, 0)
  const s = summaryOf(second, 'mail')
  const latest = Math.max(...late.map((r) => midnight + HOUR / 2 - Date.parse(r.date))) // vs the newest record before the run
  t.match(s.recheck, { days: 1, late: 5 }, 'one day re-checked, 5 late arrivals found')
  t.ok((s.recheck?.maxLateMs ?? 0) >= 6 * HOUR && (s.recheck?.maxLateMs ?? 0) <= latest, `largest lateness ${s.recheck?.maxLateMs} ms: behind the archive's newest record`)
  t.ok(s.seal?.sealed.includes(`mail_audit_${yesterday}.json`), 'then sealed')
  t.same(checkArchive('mail', readArchive(mailDir, 'mail_audit'), emu.truth('mail'), OVERLAP_US), exact(305), 'the archive equals the truth')
  t.equal((await runMain(['verify'], { env, cwd: dir })).code, 0, 'verify passes (the seal covers the merged file)')
  const prom = readFileSync(metrics, 'utf8')
  t.match(prom, /^y360_audit_recheck_late_arrivals_total\{source="mail"\} 5$/m)
  t.match(prom, /^y360_audit_recheck_max_lateness_seconds\{source="mail"\} \d+(\.\d+)?$/m)
  t.match(second.stderr, /re-check of \S+ before sealing found 5 late arrival\(s\), merged in/)
  t.match(second.stderr, /mail: ok, .* 0 late arrivals \(re-check of 1 day\(s\) before sealing: 5 more, up to \S+ late\), /, 'the summary line says so')
})

t.test('--no-recheck seals the day as it is; reconcile repairs it later and reseals it', async (t) => {
  const { emu, clock, dir, mailDir, env, yesterday } = await setup(t, 12)
  const second = await runMain(['--no-recheck'], { env, cwd: dir, now: clock.now, summary: true })
  t.equal(second.code, 0)
  t.equal(summaryOf(second, 'mail').recheck, undefined, 'no re-check')
  t.ok(summaryOf(second, 'mail').seal?.sealed.includes(`mail_audit_${yesterday}.json`), 'sealed as it is')
  t.equal(checkArchive('mail', readArchive(mailDir, 'mail_audit'), emu.truth('mail'), OVERLAP_US).missing, 5, 'the late arrivals are missing')
  const r = await runMain(['reconcile', '--since', '-3d'], { env, cwd: dir, now: clock.now })
  t.equal(r.code, 10)
  t.match(r.stdout, /5 missing, 5 merged in/)
  t.match(readFileSync(join(mailDir, 'mail_audit.manifest.jsonl'), 'utf8'), new RegExp(`"kind":"reseal","file":"mail_audit_${yesterday}.json"`), 'resealed')
  t.same(checkArchive('mail', readArchive(mailDir, 'mail_audit'), emu.truth('mail'), OVERLAP_US), exact(305))
  t.equal((await runMain(['verify'], { env, cwd: dir })).code, 0)
})

t.test('the archive\'s oldest day is re-checked from its first record on, not from its midnight', async (t) => {
  // A first run with --lookback 30h begins in the middle of the day before yesterday, which it then seals: the
  // re-check must not add that day's older records (never the archive's to hold) as late arrivals.
  const now = lastNoonUtc()
  const clock = fakeClock(now)
  const emu = await emulator(t, { clock: clock.now, counts: { mail: 300 }, days: 3, end: now, seed: 15 })
  const dir = t.testdir()
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail') })
  const r = await runMain(['--lookback', '30h'], { env, cwd: dir, now: clock.now, summary: true })
  t.equal(r.code, 0)
  t.match(summaryOf(r, 'mail').recheck, { days: 1, late: 0 }, 'the partly fetched day was re-checked, nothing was missing')
  const want = emu.truth('mail', { from: now - 30 * HOUR })
  t.same(checkArchive('mail', readArchive(join(dir, 'mail'), 'mail_audit'), want, OVERLAP_US), exact(want.length), 'exactly the last 30 hours')
})
