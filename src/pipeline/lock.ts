/** One run per archive directory: `<dir>/.y360-audit.lock` holds pid, host and start time; a dead owner's lock is taken over. */
import { linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { Y360Error, sysCode } from '../errors.js'
import type { Logger } from '../log.js'

export interface LockInfo {
  pid: number
  host: string
  started: string
}

export const LOCK_NAME = '.y360-audit.lock'

/** Whether a process with this pid exists on this host. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return sysCode(err) === 'EPERM' // exists, owned by someone else
  }
}

/** The lock's content: undefined when there is no lock file, `'garbage'` when it does not hold a lock record. */
function readLock(path: string): LockInfo | 'garbage' | undefined {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    if (sysCode(err) === 'ENOENT') return undefined
    throw new Y360Error('SINK_WRITE', `cannot read the lock file ${path}: ${(err as Error).message}`, { path }, { cause: err })
  }
  try {
    const info = JSON.parse(text) as LockInfo
    return typeof info.pid === 'number' && typeof info.host === 'string' ? info : 'garbage'
  } catch (err) {
    if (err instanceof SyntaxError) return 'garbage'
    throw err
  }
}

function lockError(path: string, what: string, err: unknown): Y360Error {
  return new Y360Error('SINK_WRITE', `cannot ${what} the lock file ${path}: ${(err as Error).message}`, { path }, { cause: err })
}

/** A held lock; `release()` removes it if it is still ours. */
export class DirLock {
  private constructor(readonly path: string, readonly info: LockInfo, private readonly log: Logger) {}

  /**
   * Takes the lock of `dir` or throws LOCKED naming the holder. The lock file appears atomically with its content
   * (written to a private file, then hard-linked), so another run never reads a half-written lock and mistakes it
   * for a stale one. A stale lock is renamed away first and removed only if it is still the one judged stale.
   */
  static acquire(dir: string, log: Logger, now: () => number = Date.now): DirLock {
    const path = join(dir, LOCK_NAME)
    const info: LockInfo = { pid: process.pid, host: hostname(), started: new Date(now()).toISOString() }
    const text = JSON.stringify(info) + '\n'
    const mine = `${path}.${process.pid}.tmp`
    try {
      writeFileSync(mine, text, { mode: 0o640 })
    } catch (err) {
      throw lockError(path, 'create', err)
    }
    try {
      for (let attempt = 0; attempt < 3; attempt++) {
        try {
          linkSync(mine, path)
          return new DirLock(path, info, log)
        } catch (err) {
          if (sysCode(err) !== 'EEXIST') throw lockError(path, 'create', err)
        }
        const held = readLock(path)
        if (held === undefined) continue // released meanwhile: try again
        // Our own pid in the lock is a dead run's (pids are reused after reboots and in containers), never a live one.
        if (held !== 'garbage' && (held.host !== info.host || (held.pid !== process.pid && alive(held.pid)))) {
          const where = held.host === info.host ? '' : ` (another host: its liveness cannot be checked from here)`
          throw new Y360Error('LOCKED', `another y360-audit run (pid ${held.pid} on ${held.host}, started ${held.started}) is writing ${dir}${where}; this run exits without touching the archive. If no such process exists, remove ${path}`, { path })
        }
        const who = held === 'garbage' ? 'an unreadable lock' : `the lock of pid ${held.pid} started ${held.started} (no longer running)`
        log.warn({ lock: path, holder: held }, `taking over the stale lock ${path}: ${who}`)
        DirLock.#removeStale(path, held)
      }
      throw new Y360Error('LOCKED', `could not take the lock ${path}: other runs keep taking it`, { path })
    } finally {
      try {
        unlinkSync(mine)
      } catch (err) {
        log.warn({ path: mine, err }, `could not remove the temporary lock file ${mine}`)
      }
    }
  }

  /** Moves the stale lock aside; if what was moved is no longer the stale lock (another run took over), puts it back. */
  static #removeStale(path: string, stale: LockInfo | 'garbage'): void {
    const aside = `${path}.${process.pid}.stale`
    try {
      renameSync(path, aside)
    } catch (err) {
      if (sysCode(err) === 'ENOENT') return
      throw lockError(path, 'take over', err)
    }
    const moved = readLock(aside)
    const same = moved === stale || (typeof moved === 'object' && typeof stale === 'object' && moved.pid === stale.pid && moved.started === stale.started && moved.host === stale.host)
    if (!same) {
      try {
        linkSync(aside, path) // a fresh lock of another run: restore it (fails if yet another run holds one now)
      } catch (err) {
        if (sysCode(err) !== 'EEXIST') throw lockError(path, 'restore', err)
      }
    }
    try {
      unlinkSync(aside)
    } catch (err) {
      if (sysCode(err) !== 'ENOENT') throw lockError(aside, 'remove', err)
    }
  }

  /** Removes the lock file if it still holds this run's record; never throws (a lock left behind is taken over as stale). */
  release(): void {
    try {
      const held = readLock(this.path)
      if (held === undefined || held === 'garbage' || held.pid !== this.info.pid || held.started !== this.info.started) return
      unlinkSync(this.path)
    } catch (err) {
      if (sysCode(err) === 'ENOENT') return
      this.log.warn({ lock: this.path, err: (err as Error).message }, `could not remove the lock ${this.path} (${(err as Error).message}); the next run takes it over as stale`)
    }
  }
}
