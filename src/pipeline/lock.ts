/** One run per archive directory: `<dir>/.y360-audit.lock` holds pid, host and start time; a dead owner's lock is taken over. */
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { Y360Error } from '../errors.js'
import type { Logger } from '../log.js'

export interface LockInfo {
  pid: number
  host: string
  started: string
}

export const LOCK_NAME = '.y360-audit.lock'

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM' // exists, owned by someone else
  }
}

function readLock(path: string): LockInfo | undefined {
  try {
    const info = JSON.parse(readFileSync(path, 'utf8')) as LockInfo
    return typeof info.pid === 'number' ? info : undefined
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    return { pid: -1, host: '?', started: '?' } // unreadable: treat as a stale lock of unknown owner
  }
}

/** A held lock; `release()` removes it if it is still ours. */
export class DirLock {
  private constructor(readonly path: string, readonly info: LockInfo) {}

  /** Takes the lock of `dir` or throws LOCKED naming the holder. */
  static acquire(dir: string, log: Logger, now: () => number = Date.now): DirLock {
    const path = join(dir, LOCK_NAME)
    const info: LockInfo = { pid: process.pid, host: hostname(), started: new Date(now()).toISOString() }
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        writeFileSync(path, JSON.stringify(info) + '\n', { flag: 'wx', mode: 0o640 })
        return new DirLock(path, info)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw new Y360Error('SINK_WRITE', `cannot create the lock file ${path}: ${(err as Error).message}`, { path }, { cause: err })
        }
      }
      const held = readLock(path)
      if (held === undefined) continue // vanished meanwhile: try again
      const sameHost = held.host === info.host
      if (held.pid > 0 && (!sameHost || alive(held.pid))) {
        throw new Y360Error('LOCKED', `another y360-audit run (pid ${held.pid} on ${held.host}, started ${held.started}) is writing ${dir}; this run exits. If no such process exists, remove ${path}`, { path })
      }
      log.warn({ lock: path, holder: held }, `taking over the stale lock ${path} of pid ${held.pid} (no longer running)`)
      try {
        unlinkSync(path)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new Y360Error('SINK_WRITE', `cannot remove the stale lock ${path}: ${(err as Error).message}`, { path }, { cause: err })
      }
    }
    throw new Y360Error('LOCKED', `could not take the lock ${path}: another run keeps taking it`, { path })
  }

  release(): void {
    const held = readLock(this.path)
    if (held?.pid !== this.info.pid || held.started !== this.info.started) return
    try {
      unlinkSync(this.path)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
  }
}
