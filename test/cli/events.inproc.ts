// The unified audit log (events): microsecond instants through windows, overlap, dedupe and ordering; incremental
// runs with live and late arrivals; three sources side by side where one failing does not stop the others.
// In-process (runMain); counts come from --summary-json.
import t from 'tap'
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { ENDPOINTS } from '../../src/sources/index.js'
import { checkArchive, cliEnv, emulator, exact, readArchive, runMain, summaryOf } from '../helpers.js'

const OVERLAP_US = 120_000_000
const us = (r: object): number => ENDPOINTS.events.timestamp(r as Record<string, unknown>) as number

t.test('1,000 unified records over 7 days (bursts on one µs, neighbours 1 µs apart) land exactly; then live and late records', async (t) => {
  const emu = await emulator(t, { counts: { events: 1000 }, days: 7, seed: 21 })
  const dir = t.testdir()
  const env = cliEnv(emu, { NEW_LOG_CATALOG_LOCATION: join(dir, 'all') })
  const truth = emu.truth('events')
  // The data really has the hard cases this test is about.
  const stamps = truth.map(us)
  let sameUs = 0
  let oneApart = 0
  let run = 1
  let longest = 1
  for (let i = 1; i < stamps.length; i++) {
    if (stamps[i] === stamps[i - 1]) { sameUs++; run++; longest = Math.max(longest, run) } else run = 1
    if (stamps[i] - stamps[i - 1] === 1) oneApart++
  }
  t.ok(longest > 100, `a burst on one µs spans pages (${longest} records)`)
  t.ok(oneApart >= 2, `records 1 µs apart (${oneApart})`)
  t.ok(stamps.some((s) => s % 1000 !== 0), 'sub-millisecond instants')

  const first = await runMain(['--lookback', '8d', '--no-log-file'], { env, cwd: dir })
  t.equal(first.code, 0, first.stderr)
  const a1 = readArchive(join(dir, 'all'), 'y360_audit')
  t.same(checkArchive('events', a1, truth), exact(1000))
  t.ok(a1.days.size >= 7)
  t.same(a1.lines.map((l) => us(JSON.parse(l))), stamps, 'the archive is in ascending µs order, ties included')

  // Live records (now) and late ones: stamped inside the overlap but older than the archive's newest record.
  const newest = stamps[stamps.length - 1]
  const live = emu.inject('events', 40)
  const late = emu.inject('events', 15, { at: (newest - 60_000_000) / 1000 })
  const lateNeighbour = emu.inject('events', 1, { at: (newest - 1) / 1000 }) // 1 µs before the newest archived
  t.ok([...late, ...lateNeighbour].every((r) => us(r) < newest && us(r) >= newest - OVERLAP_US), 'late records are within the overlap')
  const second = await runMain(['--no-log-file'], { env, cwd: dir, summary: true })
  t.equal(second.code, 0, second.stderr)
  const truth2 = emu.truth('events')
  t.equal(truth2.length, 1000 + live.length + late.length + 1)
  const a2 = readArchive(join(dir, 'all'), 'y360_audit')
  // Late arrivals are appended after newer records already on disk (the archive is append-only), so the archive may
  // step back in time, by at most the overlap: the checker tolerates exactly that much. The checkpoint is unaffected:
  // it reads one more overlap backwards past the seed window, so those late lines are in the next run's dedupe seed.
  t.same(checkArchive('events', a2, truth2, OVERLAP_US), exact(truth2.length))
  t.same(a2.lines.slice(0, a1.lines.length), a1.lines, 'append only')
  const verify = await runMain(['verify', '--no-log-file'], { env, cwd: dir })
  t.equal(verify.code, 0, `verify accepts late arrivals within the overlap: ${verify.stderr}`)
  t.match(summaryOf(second, 'events'), { ok: true, written: live.length + late.length + 1, late: late.length + 1 }, 'the live and late records written, the late ones counted')

  const third = await runMain(['--no-log-file'], { env, cwd: dir, summary: true })
  t.equal(third.code, 0, 'nothing new exits 0')
  t.match(summaryOf(third, 'events'), { ok: true, written: 0 })
  t.same(readArchive(join(dir, 'all'), 'y360_audit').lines, a2.lines)
})

t.test('events paging ends on a missing key and survives a trailing empty page that still has a key', async (t) => {
  const emu = await emulator(t, { counts: { events: 700 }, days: 1, seed: 4, switches: { eventsEndMarker: 'absent', trailingEmptyPageWithKey: true } })
  const dir = t.testdir()
  const r = await runMain(['--lookback', '2d', '--no-log-file'], { env: cliEnv(emu, { NEW_LOG_CATALOG_LOCATION: join(dir, 'all') }), cwd: dir })
  t.equal(r.code, 0, r.stderr)
  t.same(checkArchive('events', readArchive(join(dir, 'all'), 'y360_audit'), emu.truth('events')), exact(700))
  const q = emu.requests().map((e) => new URLSearchParams(e.query))
  t.ok(q.every((p) => p.get('count') === '100' && p.get('ended_at') !== null && p.get('started_at') !== null), 'count=100, ended_at and started_at on every request')
  t.ok(q.some((p) => p.get('iteration_key') !== null), 'iteration_key followed')
})

t.test('mail, disk and events side by side; events 403 does not stop the others; exit 3 names the scope', async (t) => {
  const emu = await emulator(t, { counts: { mail: 600, disk: 300, events: 400 }, days: 3, seed: 3, switches: { scopeMissing: ['events'] } })
  const dir = t.testdir()
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail'), DISK_LOG_CATALOG_LOCATION: join(dir, 'disk'), NEW_LOG_CATALOG_LOCATION: join(dir, 'all') })
  const r = await runMain(['--lookback', '4d', '--no-log-file'], { env, cwd: dir, summary: true })
  t.equal(r.code, 3, 'the exit code says something failed')
  t.same(checkArchive('mail', readArchive(join(dir, 'mail'), 'mail_audit'), emu.truth('mail')), exact(600))
  t.same(checkArchive('disk', readArchive(join(dir, 'disk'), 'disk_audit'), emu.truth('disk')), exact(300))
  t.ok(existsSync(join(dir, 'all')))
  t.same(readdirSync(join(dir, 'all')).filter((n) => n.endsWith('.json')), [], 'no events file')
  t.match(r.stderr, /events: access denied \(403: [^)]*\); the token lacks scope ya360_security:read_auditlog/)
  t.match(r.stderr, /events: FAILED \(SCOPE_MISSING\)/, 'the summary line names the failure')
  t.match(summaryOf(r, 'events'), { ok: false, code: 'SCOPE_MISSING', written: 0 })
  t.match(summaryOf(r, 'mail'), { ok: true, written: 600 })
  t.match(summaryOf(r, 'disk'), { ok: true, written: 300 })
  const ev = emu.requests().filter((e) => e.source === 'events')
  t.ok(ev.length >= 1 && ev.length <= 8, `events stopped after the first wave of windows (default --concurrency 8), no retries: ${ev.length}`)
  t.ok(ev.every((e) => e.status === 403), 'every events request was a 403 (none retried after it)')
  t.notOk(r.stderr.includes(emu.token))

  emu.setSwitches({ scopeMissing: [] })
  const again = await runMain(['--no-log-file'], { env, cwd: dir, summary: true })
  t.equal(again.code, 0, 'once the scope is granted the next run succeeds')
  t.same(checkArchive('events', readArchive(join(dir, 'all'), 'y360_audit'), emu.truth('events')), exact(400), 'events: a first run (3 days of data, default 90d lookback)')
  t.match(summaryOf(again, 'mail'), { ok: true, written: 0 })
})
