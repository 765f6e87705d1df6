// Backfill ranges (--since inclusive, --until exclusive) into an existing archive: each affected day file is merged
// with the fetched records through a temp file + rename, without duplicates, ascending, existing lines kept byte for byte.
// In-process (runMain), except the stop by SIGTERM (a real process).
import t from 'tap'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { checkArchive, cliEnv, emulator, exact, fakeClock, readArchive, runMain, startCli, summaryOf, lastNoonUtc } from '../helpers.js'
import { pythonDumps } from '../../src/pipeline/format.js'
import { ENDPOINTS } from '../../src/sources/index.js'
import { show } from '../../src/time.js'

const OVERLAP_US = 120_000_000
const ts = (line: string): number => ENDPOINTS.mail.timestamp(JSON.parse(line) as Record<string, unknown>) as number

t.test('a backfill of a damaged past range leaves the archive exact; running it again changes nothing', async (t) => {
  const emu = await emulator(t, { counts: { mail: 1500 }, days: 4, seed: 21 })
  const dir = t.testdir()
  const mailDir = join(dir, 'mail')
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: mailDir })

  // Not sealed: damaging sealed days would be named as such (exit 8, test/operator/seal.inproc.ts), not the point here.
  t.equal((await runMain(['--lookback', '5d', '--no-seal'], { env, cwd: dir })).code, 0, 'full run')
  emu.inject('mail', 30, { lateSeconds: 90 }) // late arrivals: appended slightly out of order by the next run
  t.equal((await runMain(['--no-seal'], { env, cwd: dir })).code, 0, 'incremental run')
  t.same(checkArchive('mail', readArchive(mailDir, 'mail_audit'), emu.truth('mail'), OVERLAP_US), exact(1530))

  // Damage two consecutive day files inside [since, until): drop every third line there; rewrite the second in the
  // Python script's spacing (content identity must still match the API's compact records).
  const names = readdirSync(mailDir).filter((n) => n.startsWith('mail_audit_')).sort()
  const [d1, d2] = [names[1], names[2]]
  const day1 = d1.slice('mail_audit_'.length, -'.json'.length)
  const day2 = d2.slice('mail_audit_'.length, -'.json'.length)
  const since = Date.parse(`${day1}T12:00:00Z`) * 1000
  const until = Date.parse(`${day2}T12:00:00Z`) * 1000
  let removed = 0
  const kept = new Map<string, string[]>()
  for (const [name, seed] of [[d1, false], [d2, true]] as const) {
    const lines = readFileSync(join(mailDir, name), 'utf8').split('\n').slice(0, -1)
    const out: string[] = []
    lines.forEach((l, i) => {
      const us = ts(l)
      if (us >= since && us < until && i % 3 === 0) removed++
      else out.push(seed ? pythonDumps(JSON.parse(l)) : l)
    })
    kept.set(name, out)
    writeFileSync(join(mailDir, name), out.map((l) => l + '\n').join(''))
  }
  t.ok(removed > 50, `${removed} records removed from the range`)
  const before = readArchive(mailDir, 'mail_audit')
  t.equal(checkArchive('mail', before, emu.truth('mail'), OVERLAP_US).missing, removed)

  const args = ['--since', show(since), '--until', show(until)]
  const bf = await runMain(args, { env, cwd: dir, summary: true })
  t.equal(bf.code, 0, 'backfill exits 0')
  t.match(summaryOf(bf, 'mail'), { ok: true, mode: 'backfill', written: removed }, 'the backfill wrote exactly the removed records')
  const after = readArchive(mailDir, 'mail_audit')
  t.same(checkArchive('mail', after, emu.truth('mail'), OVERLAP_US), exact(1530), 'exact afterwards')
  for (const [name, lines] of kept) {
    const now = readFileSync(join(mailDir, name), 'utf8').split('\n').slice(0, -1)
    const keptSet = new Set(lines)
    t.same(now.filter((l) => keptSet.has(l)), lines, `${name}: every existing line kept byte for byte, in its order`)
    const us = now.map(ts)
    t.ok(us.every((u, i) => i === 0 || u >= us[i - 1] - OVERLAP_US), `${name}: ascending`)
  }
  t.same(readdirSync(mailDir).filter((n) => n.includes('.tmp')), [], 'no temp file left')

  const again = await runMain(args, { env, cwd: dir, summary: true })
  t.equal(again.code, 0)
  t.match(summaryOf(again, 'mail'), { ok: true, mode: 'backfill', written: 0 })
  t.same(readArchive(mailDir, 'mail_audit').lines, after.lines, 'a second backfill changes nothing')

  const v = await runMain(['verify'], { env, cwd: dir })
  t.equal(v.code, 0, 'verify passes')
  const inc = await runMain([], { env, cwd: dir, summary: true })
  t.equal(inc.code, 0)
  t.match(summaryOf(inc, 'mail'), { ok: true, mode: 'append', written: 0 }, 'the next incremental run resumes where it was')
})

t.test('--since is inclusive, --until exclusive; relative forms yesterday / today', async (t) => {
  const clock = fakeClock(Date.UTC(2026, 9, 20, 9, 30))
  const emu = await emulator(t, { clock: clock.now })
  const dir = t.testdir()
  const mailDir = join(dir, 'mail')
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: mailDir })
  const now = clock.now
  const t1 = Date.UTC(2026, 9, 20) // today 00:00 UTC
  const t0 = t1 - 86_400_000
  const [atSince] = emu.inject('mail', 1, { at: t0 })
  const [beforeUntil] = emu.inject('mail', 1, { at: t1 - 1 })
  emu.inject('mail', 1, { at: t1 }) // exactly --until: excluded
  emu.inject('mail', 1, { at: t0 - 1 }) // just before --since: excluded
  const r = await runMain(['--since', 'yesterday', '--until', 'today'], { env, cwd: dir, now })
  t.equal(r.code, 0)
  const a = readArchive(mailDir, 'mail_audit')
  t.same([...a.days.keys()], [new Date(t0).toISOString().slice(0, 10)], 'one day file: yesterday')
  t.same(a.days.get(new Date(t0).toISOString().slice(0, 10)), [atSince, beforeUntil], 'the record at --since and the one 1 ms before --until, nothing else')

  const r2 = await runMain(['--since', new Date(t0).toISOString(), '--until', new Date(t1 + 1).toISOString()], { env, cwd: dir, now, summary: true })
  t.equal(r2.code, 0)
  t.equal(summaryOf(r2, 'mail').written, 1, 'widening --until by 1 ms adds exactly the record at the old --until')
  t.equal(readArchive(mailDir, 'mail_audit').lines.length, 3)

  const bad = await runMain(['--since', 'today', '--until', 'yesterday'], { env, cwd: dir, now })
  t.equal(bad.code, 1)
  t.match(bad.stderr, /--since must be before --until/)
  const watch = await runMain(['--since', '-2d', '--watch'], { env, cwd: dir, now })
  t.equal(watch.code, 1)
  t.match(watch.stderr, /--watch cannot be combined with --since\/--until/)
})

// A real process: what is on disk once the stopped run has exited. (In-process, run() resolves before the merging
// sink's destroy has finished: the chunk being written goes on merging its remaining days and a temp file exists for a
// moment after main() returns; the process's exit waits for that I/O.)
t.test('SIGTERM during a backfill: finished days merged, the day in progress unchanged, no temp file, no duplicate', async (t) => {
  // The data ends at the last noon (UTC): every day file holds half a day or more, whatever the time of day the test
  // runs at (ending at "now" just before midnight left a first day of a few records, which can have none to merge).
  const emu = await emulator(t, { counts: { mail: 1500 }, days: 5, seed: 22, end: lastNoonUtc() })
  const dir = t.testdir()
  const mailDir = join(dir, 'mail')
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: mailDir })
  // Not sealed: the lines lost below would be tampering with sealed days, which verify names (test/operator/seal.inproc.ts).
  t.equal((await runMain(['--lookback', '7d', '--no-seal'], { env, cwd: dir })).code, 0)
  // Lose every other line of every file, then backfill everything slowly and stop it after the first merged day.
  const names = readdirSync(mailDir).filter((n) => n.startsWith('mail_audit_')).sort()
  t.ok(names.length >= 5, `${names.length} day files`)
  const halves = new Map<string, string[]>()
  for (const n of names) {
    const kept = readFileSync(join(mailDir, n), 'utf8').split('\n').slice(0, -1).filter((_, i) => i % 2 === 0)
    halves.set(n, kept)
    writeFileSync(join(mailDir, n), kept.map((l) => l + '\n').join(''))
  }
  emu.setFaults({ latencyMs: 40 })
  const live = startCli(['--since', '-7d', '--log-level', 'debug', '--concurrency', '1'], { env, cwd: dir })
  await live.waitLine(/day file merged/)
  live.child.kill('SIGTERM')
  const end = await live.done
  t.equal(end.code, 143, end.stderr)
  t.same(readdirSync(mailDir).filter((n) => n.includes('.tmp')), [], 'the interrupted day left no temp file')
  const res = checkArchive('mail', readArchive(mailDir, 'mail_audit'), emu.truth('mail'), OVERLAP_US)
  t.same({ ...res, missing: 0, total: 0 }, { missing: 0, extra: 0, duplicates: 0, wrongDay: 0, outOfOrder: 0, total: 0 }, 'no duplicate, nothing out of order')
  const merged = names.filter((n) => readFileSync(join(mailDir, n), 'utf8').split('\n').length - 1 > (halves.get(n) as string[]).length)
  t.ok(merged.length >= 1 && merged.length < names.length, `${merged.length} of ${names.length} days merged before the stop`)
  for (const n of names.filter((x) => !merged.includes(x))) t.equal(readFileSync(join(mailDir, n), 'utf8'), (halves.get(n) as string[]).map((l) => l + '\n').join(''), `${n} unchanged`)
  t.equal((await runMain(['verify'], { env, cwd: dir })).code, 0, 'verify passes')
  emu.setFaults({ latencyMs: 0 })
  t.equal((await runMain(['--since', '-6d'], { env, cwd: dir })).code, 0, 'the backfill run again completes')
  t.same(checkArchive('mail', readArchive(mailDir, 'mail_audit'), emu.truth('mail'), OVERLAP_US), exact(1500))
})
