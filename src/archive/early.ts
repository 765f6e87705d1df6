/**
 * Early digests: a day file the run has finished writing (its sink moved on to a later day, the file synced and
 * closed) is read back and hashed while the run goes on fetching, instead of at the seal, where it was most of the
 * tail of a run (bench/RESULTS.md). The digest is the same read-back of the bytes on disk; the seal takes it only if
 * the file is still the one that was read: the same device and inode, size, modification and change times (taken
 * before and after the read, which must agree too). Anything that writes the file afterwards (a late arrival
 * reopening the day, the re-check's merge replacing it, a repair cutting a torn tail) changes one of them, and the seal
 * then hashes the file again as it always did. The run holds the directory's lock throughout. A seal still attests
 * the bytes on disk as read back after the tool's last write to them, now read when the day was finished rather than
 * at the end of the run. The one change the identity check would miss is a rewrite of the same size, by another
 * writer ignoring the lock, within one tick of the file system's clock.
 */
import { stat } from 'node:fs/promises'
import type { BigIntStats } from 'node:fs'
import type { InstantOf } from '../messages.js'
import { digestFile, type FileDigest } from './manifest.js'

/** What identifies a file's content for the early digest: nothing writes it without changing one of these. */
function identity(s: BigIntStats): string {
  return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`
}

interface Early {
  digest: FileDigest
  identity: string
}

/** The early digests of one run's archive output, by day file path. */
export class EarlyDigests {
  readonly #taken = new Map<string, Promise<Early | undefined>>()

  /** Starts reading back `path` (a later start replaces it; a failed read only means the seal hashes the file itself). */
  start(path: string, instantOf: InstantOf): void {
    this.#taken.set(path, readBack(path, instantOf).catch(() => undefined))
  }

  /** The digest of `path` read early, when the file is still exactly what was read; undefined otherwise. */
  async digest(path: string): Promise<FileDigest | undefined> {
    const early = await this.#taken.get(path)
    this.#taken.delete(path)
    if (early === undefined) return undefined
    const now = await stat(path, { bigint: true }).catch(() => undefined)
    return now !== undefined && identity(now) === early.identity ? early.digest : undefined
  }

  /** Waits for the reads in flight. */
  async settle(): Promise<void> {
    await Promise.all(this.#taken.values())
  }
}

async function readBack(path: string, instantOf: InstantOf): Promise<Early | undefined> {
  const before = identity(await stat(path, { bigint: true }))
  const digest = await digestFile(path, instantOf)
  const after = identity(await stat(path, { bigint: true }))
  return before === after ? { digest, identity: after } : undefined
}
