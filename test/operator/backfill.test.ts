// Backfill ranges (--since inclusive, --until exclusive) into an existing archive: each affected day file is merged
// with the fetched records through a temp file + rename, without duplicates, ascending, existing lines kept byte for byte.
import t from 'tap'
import { spawn } from 'node:child_process'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { CLI, checkArchive, cliEnv, emulator, readArchive, runCli } from '../helpers.js'
import { pythonDumps } from '../../src/pipeline/format.js'
import { ENDPOINTS } from '../../src/sources/index.js'
import { show } from '../../src/time.js'

const OVERLAP_US = 120_000_000
const ts = (line: string): number => ENDPOINTS.mail.timestamp(JSON.parse(line) as Record<string, unknown>) as number

t.test('a backfill of a damaged past range leaves the archive exact; running it again changes nothing', async (t) => {
  const emu = await emulator(t, { counts: { mail: 5000 }, days: 4, seed: 21 })
  const dir = t.testdir()
  const mailDir = join(dir, 'mail')
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: mailDir })

  t.equal((await runCli(['--lookback', '5d'], { env, cwd: dir })).code, 0, 'full run')
  emu.inject('mail', 30, { lateSeconds: 90 }) // late arrivals: appended slightly out of order by the next run
  t.equal((await runCli([], { env, cwd: dir })).code, 0, 'incremental run')
  t.same(checkArchive('mail', readArchive(mailDir, 'mail_audit'), emu.truth('mail'), OVERLAP_US), { missing: 0, extra: 0, duplicates: 0, wrongDay: 0, outOfOrder: 0, total: 5030 })

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
  t.ok(removed > 100, `${removed} records removed from the range`)
  const before = readArchive(mailDir, 'mail_audit')
  t.equal(checkArchive('mail', before, emu.truth('mail'), OVERLAP_US).missing, removed)

  const args = ['--since', show(since), '--until', show(until)]
  const bf = await runCli(args, { env, cwd: dir })
  t.equal(bf.code, 0, 'backfill exits 0')
  t.match(bf.stderr, new RegExp(`mail: ok \\(backfill\\), fetched \\d+ in \\d+ pages, wrote ${removed}, dropped \\d+ duplicates`))
  const after = readArchive(mailDir, 'mail_audit')
  t.same(checkArchive('mail', after, emu.truth('mail'), OVERLAP_US), { missing: 0, extra: 0, duplicates: 0, wrongDay: 0, outOfOrder: 0, total: 5030 }, 'exact afterwards')
  for (const [name, lines] of kept) {
    const now = readFileSync(join(mailDir, name), 'utf8').split('\n').slice(0, -1)
    const keptSet = new Set(lines)
    t.same(now.filter((l) => keptSet.has(l)), lines, `${name}: every existing line kept byte for byte, in its order`)
    const us = now.map(ts)
    t.ok(us.every((u, i) => i === 0 || u >= us[i - 1] - OVERLAP_US), `${name}: ascending`)
  }
  t.same(readdirSync(mailDir).filter((n) => n.includes('.tmp')), [], 'no temp file left')

  const again = await runCli(args, { env, cwd: dir })
  t.equal(again.code, 0)
  t.match(again.stderr, /mail: ok \(backfill\), fetched \d+ in \d+ pages, wrote 0,/)
  t.same(readArchive(mailDir, 'mail_audit').lines, after.lines, 'a second backfill changes nothing')

  const v = await runCli(['verify'], { env, cwd: dir })
  t.equal(v.code, 0, 'verify passes')
  const inc = await runCli([], { env, cwd: dir })
  t.equal(inc.code, 0)
  t.match(inc.stderr, /mail: ok, fetched \d+ in \d+ pages, wrote 0,/, 'the next incremental run resumes where it was')
})

t.test('--since is inclusive, --until exclusive; relative forms yesterday / today', async (t) => {
  const emu = await emulator(t, {})
  const dir = t.testdir()
  const mailDir = join(dir, 'mail')
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: mailDir })
  const today = new Date()
  today.setUTCHours(0, 0, 0, 0)
  const t1 = today.getTime()
  const t0 = t1 - 86_400_000
  const [atSince] = emu.inject('mail', 1, { at: t0 })
  const [beforeUntil] = emu.inject('mail', 1, { at: t1 - 1 })
  emu.inject('mail', 1, { at: t1 }) // exactly --until: excluded
  emu.inject('mail', 1, { at: t0 - 1 }) // just before --since: excluded
  const r = await runCli(['--since', 'yesterday', '--until', 'today'], { env, cwd: dir })
  t.equal(r.code, 0)
  const a = readArchive(mailDir, 'mail_audit')
  t.same([...a.days.keys()], [new Date(t0).toISOString().slice(0, 10)], 'one day file: yesterday')
  t.same(a.days.get(new Date(t0).toISOString().slice(0, 10)), [atSince, beforeUntil], 'the record at --since and the one 1 ms before --until, nothing else')

  const r2 = await runCli(['--since', new Date(t0).toISOString(), '--until', new Date(t1 + 1).toISOString()], { env, cwd: dir })
  t.equal(r2.code, 0)
  t.match(r2.stderr, /wrote 1,/, 'widening --until by 1 ms adds exactly the record at the old --until')
  t.equal(readArchive(mailDir, 'mail_audit').lines.length, 3)

  const bad = await runCli(['--since', 'today', '--until', 'yesterday'], { env, cwd: dir })
  t.equal(bad.code, 1)
  t.match(bad.stderr, /--since must be before --until/)
  const watch = await runCli(['--since', '-2d', '--watch'], { env, cwd: dir })
  t.equal(watch.code, 1)
  t.match(watch.stderr, /--watch cannot be combined with --since\/--until/)
})

t.test('SIGTERM during a backfill: finished days merged, the day in progress unchanged, no temp file, no duplicate', async (t) => {
  const emu = await emulator(t, { counts: { mail: 6000 }, days: 5, seed: 22 })
  const dir = t.testdir()
  const mailDir = join(dir, 'mail')
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: mailDir })
  t.equal((await runCli(['--lookback', '6d'], { env, cwd: dir })).code, 0)
  // Lose every other line of every file, then backfill everything slowly and stop it after the first merged day.
  const names = readdirSync(mailDir).filter((n) => n.startsWith('mail_audit_')).sort()
  const halves = new Map<string, string[]>()
  for (const n of names) {
    const kept = readFileSync(join(mailDir, n), 'utf8').split('\n').slice(0, -1).filter((_, i) => i % 2 === 0)
    halves.set(n, kept)
    writeFileSync(join(mailDir, n), kept.map((l) => l + '\n').join(''))
  }
  emu.setFaults({ latencyMs: 40 })
  const child = spawn(process.execPath, [CLI, '--since', '-6d', '--log-level', 'debug', '--concurrency', '1'], { cwd: dir, env, stdio: ['ignore', 'ignore', 'pipe'] })
  let err = ''
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  await new Promise<void>((resolve) => {
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      err += d
      if (/day file merged/.test(err) && child.exitCode === null && !child.killed) {
        child.kill('SIGTERM')
        resolve()
      }
    })
  })
  t.equal(await exit, 143)
  t.same(readdirSync(mailDir).filter((n) => n.includes('.tmp')), [], 'the interrupted day left no temp file')
  const res = checkArchive('mail', readArchive(mailDir, 'mail_audit'), emu.truth('mail'), OVERLAP_US)
  t.same({ ...res, missing: 0, total: 0 }, { missing: 0, extra: 0, duplicates: 0, wrongDay: 0, outOfOrder: 0, total: 0 }, 'no duplicate, nothing out of order')
  const merged = names.filter((n) => readFileSync(join(mailDir, n), 'utf8').split('\n').length - 1 > (halves.get(n) as string[]).length)
  t.ok(merged.length >= 1 && merged.length < names.length, `${merged.length} of ${names.length} days merged before the stop`)
  for (const n of names.filter((x) => !merged.includes(x))) t.equal(readFileSync(join(mailDir, n), 'utf8'), (halves.get(n) as string[]).map((l) => l + '\n').join(''), `${n} unchanged`)
  t.equal((await runCli(['verify'], { env, cwd: dir })).code, 0, 'verify passes')
  emu.setFaults({ latencyMs: 0 })
  t.equal((await runCli(['--since', '-6d'], { env, cwd: dir })).code, 0, 'the backfill run again completes')
  t.same(checkArchive('mail', readArchive(mailDir, 'mail_audit'), emu.truth('mail'), OVERLAP_US), { missing: 0, extra: 0, duplicates: 0, wrongDay: 0, outOfOrder: 0, total: 6000 })
})
