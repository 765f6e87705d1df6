/**
 * One writer per directory: `<dir>/.y360-audit.lock` is a lease. It holds the holder's pid, host, start time and a
 * random id; the holder refreshes its mtime every quarter of the stale time. A lock not refreshed for longer than the
 * stale time is taken over whatever host wrote it (a pod that was OOM-killed or evicted never comes back to release
 * it); on this host, the lock of a pid that no longer runs is taken over at once. A holder checks, before each write,
 * that the lock is still its own: one that was stopped too long and lost it stops writing (LOCKED) instead of
 * interleaving with the new holder.
 */
import { randomBytes } from 'node:crypto'
import { existsSync, linkSync, readFileSync, renameSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { dirname, join } from 'node:path'
import { Y360Error, sysCode } from '../errors.js'
import type { Logger } from '../log.js'

export interface LockInfo {
  pid: number
  host: string
  started: string
  /** Random per acquisition: tells this run's lock from a later one of the same pid. */
  id?: string
}

export const LOCK_NAME = '.y360-audit.lock'
/** Default time after which a lock that was not refreshed is taken over. */
export const LOCK_STALE_MS = 120_000

export interface LockOptions {
  now?: () => number
  /** A lock not refreshed for longer than this is stale. */
  staleMs?: number
  /** Whether the holder refreshes the lock on a timer (tests drive `refresh()` themselves). */
  refresh?: boolean
}

/** Whether a process with this pid exists on this host. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return sysCode(err) === 'EPERM' // exists, owned by someone else
  }
}

interface Held {
  info: LockInfo | 'garbage'
  mtimeMs: number
  /** The file's inode and size, taken (with its time) before its content was read. */
  ino: number
  size: number
}

/** The lock's content and age: undefined when there is no lock file, info `'garbage'` when it is not a lock record. */
function readLock(path: string): Held | undefined {
  let text: string
  let st: { mtimeMs: number; ino: number; size: number }
  try {
    st = statSync(path)
    text = readFileSync(path, 'utf8')
  } catch (err) {
    if (sysCode(err) === 'ENOENT') return undefined
    throw new Y360Error('SINK_WRITE', `cannot read the lock file ${path}: ${(err as Error).message}`, { path }, { cause: err })
  }
  const stamp = { mtimeMs: st.mtimeMs, ino: st.ino, size: st.size }
  try {
    const info = JSON.parse(text) as LockInfo
    return { info: typeof info.pid === 'number' && typeof info.host === 'string' ? info : 'garbage', ...stamp }
  } catch (err) {
    if (err instanceof SyntaxError) return { info: 'garbage', ...stamp }
    throw err
  }
}

function lockError(path: string, what: string, err: unknown): Y360Error {
  return new Y360Error('SINK_WRITE', `cannot ${what} the lock file ${path}: ${(err as Error).message}`, { path }, { cause: err })
}

function sameLock(a: LockInfo | 'garbage', b: LockInfo | 'garbage'): boolean {
  if (a === 'garbage' || b === 'garbage') return a === b
  return a.pid === b.pid && a.host === b.host && a.started === b.started && a.id === b.id
}

/** Why a held lock may be taken over, or undefined when it belongs to a live holder. */
function staleReason(held: Held, me: LockInfo, nowMs: number, staleMs: number): string | undefined {
  const age = nowMs - held.mtimeMs
  if (held.info === 'garbage') return 'an unreadable lock'
  const who = `the lock of pid ${held.info.pid} on ${held.info.host} started ${held.info.started}`
  if (age > staleMs) return `${who} (not refreshed for ${Math.round(age / 1000)}s, more than --lock-stale ${Math.round(staleMs / 1000)}s)`
  // Our own pid in the lock is a dead run's (pids are reused after reboots and in containers), never a live one.
  if (held.info.host === me.host && (held.info.pid === me.pid || !alive(held.info.pid))) return `the lock of pid ${held.info.pid} started ${held.info.started} (no longer running)`
  return undefined
}

/** A held lock: `check()` before writing, `release()` at the end. */
export class DirLock {
  readonly #timer: NodeJS.Timeout | undefined

  private constructor(readonly path: string, readonly info: LockInfo, private readonly log: Logger, private readonly now: () => number, refreshEveryMs: number | undefined) {
    if (refreshEveryMs !== undefined) this.#timer = setInterval(() => this.refresh(), refreshEveryMs).unref()
  }

  /**
   * Takes the lock of `dir` or throws LOCKED naming the holder. The lock file appears atomically with its content
   * (written to a private file with an unpredictable name, created exclusively, then hard-linked), so another run
   * never reads a half-written lock and mistakes it for a stale one, and a link planted on the temp name is never
   * followed. A stale lock is renamed away first and removed only if it is still the one judged stale.
   */
  static acquire(dir: string, log: Logger, o: LockOptions = {}): DirLock {
    const now = o.now ?? Date.now
    const staleMs = o.staleMs ?? LOCK_STALE_MS
    const path = join(dir, LOCK_NAME)
    const info: LockInfo = { pid: process.pid, host: hostname(), started: new Date(now()).toISOString(), id: randomBytes(8).toString('hex') }
    const mine = `${path}.${randomBytes(8).toString('hex')}.tmp`
    try {
      writeFileSync(mine, JSON.stringify(info) + '\n', { mode: 0o640, flag: 'wx' })
      utimesSync(mine, now() / 1000, now() / 1000)
    } catch (err) {
      throw lockError(path, 'create', err)
    }
    try {
      for (let attempt = 0; attempt < 3; attempt++) {
        try {
          linkSync(mine, path)
          return new DirLock(path, info, log, now, o.refresh === false ? undefined : Math.max(1000, staleMs / 4))
        } catch (err) {
          if (sysCode(err) !== 'EEXIST') throw lockError(path, 'create', err)
        }
        const held = readLock(path)
        if (held === undefined) continue // released meanwhile: try again
        const why = staleReason(held, info, now(), staleMs)
        if (why === undefined) throw lockedBy(held.info as LockInfo, dir, path, info.host, staleMs)
        log.warn({ lock: path, holder: held.info }, `taking over the stale lock ${path}: ${why}`)
        DirLock.#removeStale(path, held.info)
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
    const aside = `${path}.${randomBytes(8).toString('hex')}.stale`
    try {
      renameSync(path, aside)
    } catch (err) {
      if (sysCode(err) === 'ENOENT') return
      throw lockError(path, 'take over', err)
    }
    const moved = readLock(aside)
    if (moved === undefined || !sameLock(moved.info, stale)) {
      try {
        linkSync(aside, path) // a fresh lock of another run: restore it (fails if yet another run holds one now)
      } catch (err) {
        if (sysCode(err) !== 'EEXIST' && sysCode(err) !== 'ENOENT') throw lockError(path, 'restore', err)
      }
    }
    try {
      unlinkSync(aside)
    } catch (err) {
      if (sysCode(err) !== 'ENOENT') throw lockError(aside, 'remove', err)
    }
  }

  /**
   * The lock file as last read and found ours: its inode, size and modification time. A takeover links a new file in
   * (another inode), and anything that rewrites the file changes its size or time: while all three are unchanged it
   * still holds our record, and `check` before every write costs one stat, not a stat, an open, a read and a parse
   * (two hundred of those a first run, each holding up the run's thread). Runs of this tool never rewrite a lock in
   * place (they link, unlink and touch it); a foreign rewrite of the same size within one tick of the file system's
   * clock is the one change this would miss until the next refresh reads the file again.
   */
  #known: { ino: number; size: number; mtimeMs: number } | undefined

  /** Whether the lock file still holds this run's record. */
  #ours(): boolean {
    const k = this.#known
    if (k !== undefined) {
      const st = statSync(this.path, { throwIfNoEntry: false })
      if (st !== undefined && st.ino === k.ino && st.size === k.size && st.mtimeMs === k.mtimeMs) return true
    }
    this.#known = undefined
    const held = readLock(this.path)
    if (held === undefined || !sameLock(held.info, this.info)) return false
    // The stat taken before the read: a takeover after it links another inode in, which the next check sees.
    this.#known = { mtimeMs: held.mtimeMs, ino: held.ino, size: held.size }
    return true
  }

  /** Throws LOCKED when another run has taken the lock over (this one was stopped longer than the stale time). */
  check(): void {
    if (this.#ours()) return
    // The directory itself is gone (removed under the run): no other run can hold a lock in it, and the write that
    // follows fails on the missing directory, naming the file (exit 5), which says what happened.
    if (!existsSync(dirname(this.path))) return
    throw new Y360Error('LOCKED', `the lock ${this.path} was taken over by another run (this one did not refresh it for too long, e.g. it was stopped); stopping before the next write so that two runs never write the same files`, { path: this.path })
  }

  /** Marks the lease as alive (its mtime); never throws: a lock that cannot be refreshed is caught by check(). */
  refresh(): void {
    try {
      if (!this.#ours()) return
      this.#known = undefined // its time changes: read again at the next check
      utimesSync(this.path, this.now() / 1000, this.now() / 1000)
    } catch (err) {
      this.log.debug({ lock: this.path, err: (err as Error).message }, 'could not refresh the lock')
    }
  }

  /** Removes the lock file if it still holds this run's record; never throws (a lock left behind goes stale). */
  release(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer)
    try {
      if (this.#ours()) unlinkSync(this.path)
    } catch (err) {
      if (sysCode(err) === 'ENOENT') return
      this.log.warn({ lock: this.path, err: (err as Error).message }, `could not remove the lock ${this.path} (${(err as Error).message}); the next run takes it over once it is stale`)
    }
  }
}

function lockedBy(held: LockInfo, dir: string, path: string, host: string, staleMs: number): Y360Error {
  const where = held.host === host ? '' : ` (another host: taken over once it is not refreshed for --lock-stale ${Math.round(staleMs / 1000)}s)`
  return new Y360Error('LOCKED', `another y360-audit run (pid ${held.pid} on ${held.host}, started ${held.started}) is writing ${dir}${where}; this run exits without touching the archive. If no such process exists, remove ${path}`, { path })
}
