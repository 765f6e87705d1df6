// The lock is a lease (issue 13): a lock not refreshed for longer than the stale time is taken over whatever host wrote
// it (a Kubernetes pod that was killed never comes back to release it); a fresh lock of another host is respected; a
// holder that lost its lock (it was stopped too long) stops before its next write; release never removes a lock that
// is no longer ours. Time is injected: nothing here waits.
import t from 'tap'
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import pino from 'pino'
import { DirLock, LOCK_NAME } from '../../src/pipeline/lock.js'

function capture(): { log: pino.Logger; lines: string[] } {
  const lines: string[] = []
  const log = pino({ level: 'debug' }, { write: (s: string) => lines.push(s) })
  return { log, lines }
}

const T0 = Date.UTC(2026, 10, 20, 12)
const STALE = 120_000

t.test('a foreign lock is respected while fresh and taken over once stale, naming the old holder', async (t) => {
  const dir = t.testdir()
  const path = join(dir, LOCK_NAME)
  const foreign = JSON.stringify({ pid: 4242, host: 'pod-7f9c-old', started: '2026-11-20T11:00:00.000Z', id: 'abc' }) + '\n'
  writeFileSync(path, foreign)
  utimesSync(path, T0 / 1000, T0 / 1000)
  const { log, lines } = capture()
  const fresh = (): DirLock => DirLock.acquire(dir, log, { now: () => T0 + STALE - 1000, staleMs: STALE, refresh: false })
  t.throws(fresh, { code: 'LOCKED', message: /pid 4242 on pod-7f9c-old.*another host: taken over once it is not refreshed for --lock-stale 120s/ })
  t.equal(readFileSync(path, 'utf8'), foreign, 'the fresh foreign lock is left alone')
  const lock = DirLock.acquire(dir, log, { now: () => T0 + STALE + 1000, staleMs: STALE, refresh: false })
  t.match(lines.join(''), /taking over the stale lock .*: the lock of pid 4242 on pod-7f9c-old started 2026-11-20T11:00:00.000Z \(not refreshed for 121s, more than --lock-stale 120s\)/)
  t.equal(JSON.parse(readFileSync(path, 'utf8')).pid, process.pid, 'the lock is ours now')
  t.equal(statSync(path).mtimeMs, T0 + STALE + 1000, 'its lease starts at the injected now')
  lock.check()
  lock.release()
  t.notOk(existsSync(path))
})

t.test('a holder stopped past the stale time loses the lock: check() throws, release() leaves the new holder alone', async (t) => {
  const dir = t.testdir()
  const path = join(dir, LOCK_NAME)
  let now = T0
  const { log } = capture()
  const a = DirLock.acquire(dir, log, { now: () => now, staleMs: STALE, refresh: false })
  now += STALE / 2
  a.refresh()
  t.equal(statSync(path).mtimeMs, now, 'refresh moves the lease on')
  a.check()
  a.check() // the second check finds the file as the first left it: one stat, no read
  now += STALE + 1 // a was stopped (SIGSTOP, a frozen VM): no refresh
  // The same pid is alive here, but the lease is stale: another run takes it over (a container on another node would).
  const b = DirLock.acquire(dir, log, { now: () => now, staleMs: STALE, refresh: false })
  t.throws(() => a.check(), { code: 'LOCKED', message: /was taken over by another run/ }, 'a stops before its next write')
  a.refresh()
  t.equal(JSON.parse(readFileSync(path, 'utf8')).id, b.info.id, 'a refresh by the old holder does not touch the new lock')
  a.release()
  t.ok(existsSync(path), 'the old holder does not remove the new holder\'s lock')
  b.check()
  b.release()
  t.notOk(existsSync(path))
})

t.test('the lock appears whole: written to an unpredictable temp name, created exclusively, then linked', async (t) => {
  const dir = t.testdir({ other: {} })
  const { log } = capture()
  const a = DirLock.acquire(dir, log, { now: () => T0, refresh: false })
  const again = DirLock.acquire(join(dir, 'other'), log, { now: () => T0, refresh: false })
  t.not(a.info.id, again.info.id, 'each acquisition has its own id')
  t.same(JSON.parse(readFileSync(join(dir, LOCK_NAME), 'utf8')), a.info)
  a.release()
  again.release()
})

t.test('a directory removed under the run is not a takeover: check() leaves the failure to the write (exit 5), naming the file', async (t) => {
  const dir = t.testdir({ archive: {} })
  const a = DirLock.acquire(join(dir, 'archive'), capture().log, { now: () => T0, refresh: false })
  rmSync(join(dir, 'archive'), { recursive: true })
  t.doesNotThrow(() => a.check(), 'no LOCKED for a lock whose directory is gone')
  mkdirSync(join(dir, 'archive'))
  t.throws(() => a.check(), { code: 'LOCKED' }, 'the directory is back without our lock: another run may hold it')
  a.release()
})

t.test('check() after the lock file was rewritten in place with another record: LOCKED, whatever check found before', async (t) => {
  const dir = t.testdir()
  const path = join(dir, LOCK_NAME)
  const a = DirLock.acquire(dir, capture().log, { now: () => T0, staleMs: STALE, refresh: false })
  a.check()
  a.check()
  writeFileSync(path, JSON.stringify({ ...a.info, id: 'another-run-id', started: '2026-11-20T12:00:00.000Z' }) + '\n')
  t.throws(() => a.check(), { code: 'LOCKED', message: /was taken over by another run/ })
  writeFileSync(path, JSON.stringify(a.info) + '\n')
  t.doesNotThrow(() => a.check(), 'our record back (another inode time or size): read again, ours')
  a.release()
  t.notOk(existsSync(path))
})
