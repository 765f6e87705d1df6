// Lock: one run per archive directory. Guards: a second concurrent run exits at once with 6 and names the holder;
// a stale lock of a dead pid is taken over with a warning; an unreadable lock is taken over; a lock of another host is respected.
// The holder is a real process (its pid is what the lock names, and it is stopped by SIGTERM); the runs that meet its
// lock, and those that meet stale ones, run in this process (runMain).
import t from 'tap'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { checkArchive, cliEnv, emulator, readArchive, runMain } from '../helpers.js'
import { exits, startCli } from './util.js'

const LOCK = '.y360-audit.lock'
/** A pid above pid_max cannot belong to any process. */
const DEAD_PID = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8').trim()) + 1

t.test('a second concurrent run exits 6 at once naming the holder; the first stops on SIGTERM; a third completes', async (t) => {
  let firstRequest: () => void = () => undefined
  const requested = new Promise<void>((r) => (firstRequest = r))
  const emu = await emulator(t, { counts: { mail: 300 }, days: 2, seed: 3, faults: { stall: 1 }, onRequest: () => firstRequest() })
  const dir = t.testdir()
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail') })

  const a = startCli(['--lookback', '3d', '--timeout', '60s', '--concurrency', '1'], { env, cwd: dir })
  await requested // one window in flight: A holds the lock (taken before any request) and its request stalls
  const lock = JSON.parse(readFileSync(join(dir, 'mail', LOCK), 'utf8')) as { pid: number; host: string; started: string }
  t.equal(lock.pid, a.child.pid, 'the lock names the running pid')
  t.equal(lock.host, hostname())
  t.ok(!Number.isNaN(Date.parse(lock.started)), 'start time recorded')

  const requestsBefore = emu.stats().requests
  const b = await runMain(['--lookback', '3d'], { env, cwd: dir })
  t.equal(b.code, 6, 'the second run exits 6 (LOCKED)')
  t.match(b.stderr, new RegExp(`another y360-audit run \\(pid ${a.child.pid} on ${hostname()}, started ${lock.started}\\) is writing ${join(dir, 'mail').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`))
  t.equal(emu.stats().requests, requestsBefore, 'the second run sent no request')
  t.equal(JSON.parse(readFileSync(join(dir, 'mail', LOCK), 'utf8')).pid, a.child.pid, 'the lock still belongs to the first run')

  a.child.kill('SIGTERM')
  const ra = await a.done
  t.equal(ra.code, 143, 'the stalled first run stops on SIGTERM with 143')
  t.notOk(existsSync(join(dir, 'mail', LOCK)), 'the lock is released on a graceful stop')

  emu.setFaults({ stall: 0 })
  const c = await runMain(['--lookback', '3d'], { env, cwd: dir })
  t.equal(c.code, 0, exits(c, 0, 'exit 0'))
  t.same(checkArchive('mail', readArchive(join(dir, 'mail'), 'mail_audit'), emu.truth('mail')), { missing: 0, extra: 0, duplicates: 0, wrongDay: 0, outOfOrder: 0, total: 300 })
  t.notOk(existsSync(join(dir, 'mail', LOCK)), 'the lock is released at the end')
})

t.test('stale locks (dead pid, unreadable) are taken over with a warning; another host\'s lock is respected', async (t) => {
  const emu = await emulator(t, { counts: { mail: 200 }, days: 2, seed: 4 })
  const dir = t.testdir({ mail: {} })
  const env = cliEnv(emu, { MAIL_LOG_CATALOG_LOCATION: join(dir, 'mail') })
  const lockPath = join(dir, 'mail', LOCK)

  writeFileSync(lockPath, JSON.stringify({ pid: DEAD_PID, host: hostname(), started: '2025-01-01T00:00:00.000Z' }) + '\n')
  const r1 = await runMain(['--lookback', '3d'], { env, cwd: dir })
  t.equal(r1.code, 0, exits(r1, 0, 'exit 0'))
  t.match(r1.stderr, `taking over the stale lock ${lockPath}: the lock of pid ${DEAD_PID} started 2025-01-01T00:00:00.000Z (no longer running)`)
  t.same(checkArchive('mail', readArchive(join(dir, 'mail'), 'mail_audit'), emu.truth('mail')), { missing: 0, extra: 0, duplicates: 0, wrongDay: 0, outOfOrder: 0, total: 200 })
  t.notOk(existsSync(lockPath))

  writeFileSync(lockPath, '{"pid": 12') // a lock torn by a crash of an old version
  emu.inject('mail', 5)
  const r2 = await runMain([], { env, cwd: dir })
  t.equal(r2.code, 0, exits(r2, 0, 'exit 0'))
  t.match(r2.stderr, `taking over the stale lock ${lockPath}: an unreadable lock`)
  t.same(checkArchive('mail', readArchive(join(dir, 'mail'), 'mail_audit'), emu.truth('mail')), { missing: 0, extra: 0, duplicates: 0, wrongDay: 0, outOfOrder: 0, total: 205 })

  const foreign = JSON.stringify({ pid: DEAD_PID, host: 'other-host.example', started: '2025-01-01T00:00:00.000Z' }) + '\n'
  writeFileSync(lockPath, foreign)
  const before = readArchive(join(dir, 'mail'), 'mail_audit').lines
  emu.inject('mail', 5)
  const r3 = await runMain([], { env, cwd: dir })
  t.equal(r3.code, 6, 'a lock of another host cannot be judged stale: exit 6')
  t.match(r3.stderr, 'another y360-audit run (pid ' + DEAD_PID + ' on other-host.example')
  t.match(r3.stderr, `remove ${lockPath}`)
  t.equal(readFileSync(lockPath, 'utf8'), foreign, 'the foreign lock is left alone')
  t.same(readArchive(join(dir, 'mail'), 'mail_audit').lines, before, 'the locked-out run wrote nothing')
})
