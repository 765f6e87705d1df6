// src/pipeline/lock.ts in-process: the lock file's content, LOCKED naming a live holder (this host or another),
// takeover of a dead run's, an unreadable or our own pid's lock, release only of our own lock, no temp file left.
import t from 'tap'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import pino from 'pino'
import { DirLock, LOCK_NAME } from '../../src/pipeline/lock.js'
import { fakeClock } from '../helpers.js'

/** A logger whose lines are collected (parsed). */
function capture(): { log: pino.Logger; lines: { level: number; msg: string }[] } {
  const lines: { level: number; msg: string }[] = []
  const sink = new Writable({ write(chunk: Buffer, _e, cb) { lines.push(JSON.parse(chunk.toString('utf8'))); cb() } })
  return { log: pino({ level: 'debug' }, sink), lines }
}

const DEAD_PID = 2 ** 30 // above any pid_max: no such process
const clock = fakeClock(Date.UTC(2026, 9, 20, 8, 0, 0))
const started = '2026-10-20T08:00:00.000Z'
const lockOf = (dir: string): unknown => JSON.parse(readFileSync(join(dir, LOCK_NAME), 'utf8'))

t.test('acquire writes pid, host and start time; release removes it; nothing else is left', async (t) => {
  const dir = t.testdir()
  const { log, lines } = capture()
  const lock = DirLock.acquire(dir, log, { now: clock.now, refresh: false })
  t.same(lockOf(dir), { pid: process.pid, host: hostname(), started, id: lock.info.id })
  t.match(lock.info.id, /^[0-9a-f]{16}$/, 'a random id per acquisition')
  t.equal(readFileSync(join(dir, LOCK_NAME), 'utf8').endsWith('}\n'), true)
  t.same(readdirSync(dir), [LOCK_NAME], 'no temp file beside it')
  lock.release()
  t.same(readdirSync(dir), [])
  t.same(lines, [], 'nothing logged')
})

t.test('a live holder on this host: LOCKED naming it, the lock untouched', async (t) => {
  const dir = t.testdir()
  const held = { pid: process.ppid, host: hostname(), started: '2026-10-20T07:00:00.000Z' }
  writeFileSync(join(dir, LOCK_NAME), JSON.stringify(held) + '\n')
  t.throws(() => DirLock.acquire(dir, capture().log, { now: clock.now, refresh: false }), {
    code: 'LOCKED',
    message: `another y360-audit run (pid ${held.pid} on ${held.host}, started ${held.started}) is writing ${dir}; this run exits without touching the archive. If no such process exists, remove ${join(dir, LOCK_NAME)}`,
  })
  t.same(lockOf(dir), held)
  t.same(readdirSync(dir), [LOCK_NAME])
})

t.test('a fresh lock of another host is respected (its liveness cannot be checked; it is taken over only once stale: lease.inproc.ts)', async (t) => {
  const dir = t.testdir()
  const held = { pid: DEAD_PID, host: 'elsewhere.example', started: '2026-10-20T07:00:00.000Z' }
  writeFileSync(join(dir, LOCK_NAME), JSON.stringify(held))
  t.throws(() => DirLock.acquire(dir, capture().log, { now: clock.now, refresh: false }), { code: 'LOCKED', message: /pid 1073741824 on elsewhere\.example.*\(another host: taken over once it is not refreshed for --lock-stale 120s\)/ })
  t.same(lockOf(dir), held)
})

for (const [name, content, holder] of [
  ['a dead pid', JSON.stringify({ pid: DEAD_PID, host: hostname(), started: '2026-10-19T00:00:00.000Z' }), `the lock of pid ${DEAD_PID} started 2026-10-19T00:00:00.000Z (no longer running)`],
  ["our own pid (a dead run's: pids are reused)", JSON.stringify({ pid: process.pid, host: hostname(), started: '2026-10-19T00:00:00.000Z' }), `the lock of pid ${process.pid} started 2026-10-19T00:00:00.000Z (no longer running)`],
  ['garbage', '{"pid": "nope"', 'an unreadable lock'],
  ['a JSON value without pid', '{"owner":"me"}', 'an unreadable lock'],
] as const) {
  t.test(`a stale lock (${name}) is taken over with a warning`, async (t) => {
    const dir = t.testdir()
    writeFileSync(join(dir, LOCK_NAME), content)
    const { log, lines } = capture()
    const lock = DirLock.acquire(dir, log, { now: clock.now, refresh: false })
    t.same(lockOf(dir), { pid: process.pid, host: hostname(), started, id: lock.info.id })
  t.match(lock.info.id, /^[0-9a-f]{16}$/, 'a random id per acquisition')
    t.same(lines.map((l) => [l.level, l.msg]), [[40, `taking over the stale lock ${join(dir, LOCK_NAME)}: ${holder}`]])
    t.same(readdirSync(dir), [LOCK_NAME], 'the stale lock and the temp files are gone')
    lock.release()
    t.same(readdirSync(dir), [])
  })
}

t.test('release leaves a lock that is no longer ours (another run took it over meanwhile)', async (t) => {
  const dir = t.testdir()
  const lock = DirLock.acquire(dir, capture().log, { now: clock.now, refresh: false })
  const other = { pid: process.pid, host: hostname(), started: '2026-10-20T09:00:00.000Z' }
  writeFileSync(join(dir, LOCK_NAME), JSON.stringify(other))
  lock.release()
  t.same(lockOf(dir), other, 'the other run keeps its lock')
  writeFileSync(join(dir, LOCK_NAME), 'garbage')
  lock.release()
  t.equal(readFileSync(join(dir, LOCK_NAME), 'utf8'), 'garbage', 'an unreadable lock is not ours either')
})

t.test('a directory that does not exist: SINK_WRITE naming the lock file', async (t) => {
  const dir = join(t.testdir(), 'missing')
  t.throws(() => DirLock.acquire(dir, capture().log, { now: clock.now, refresh: false }), { code: 'SINK_WRITE', message: new RegExp(`^cannot create the lock file ${join(dir, LOCK_NAME).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: ENOENT`) })
  t.notOk(existsSync(dir))
})
