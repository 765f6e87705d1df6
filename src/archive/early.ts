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
import type { InstantOf } from '../messages.js'
import { digestFile, type FileDigest } from './manifest.js'

/** What identifies a file's content for the early digest: nothing writes it without changing one of these. */
async function identity(path: string): Promise<string> {
  const s = await stat(path, { bigint: true })
  return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`
}

interface Early {
  digest: FileDigest
  identity: string
}

/** The early digests of one run's archive output, by day file path. */
export class EarlyDigests {
  readonly #taken = new Map<string, Promise<Early | undefined>>()

  /**
   * Starts reading back `path` (a later start replaces it; a failed read only means the seal hashes the file itself).
   * Resolves when the read has ended, never rejects: the sink does not wait for it.
   */
  async start(path: string, instantOf: InstantOf): Promise<void> {
    const read = readBack(path, instantOf).catch(() => undefined)
    this.#taken.set(path, read)
    await read
  }

  /** The digest of `path` read early, when the file is still exactly what was read; undefined otherwise. */
  async digest(path: string): Promise<FileDigest | undefined> {
    const early = await this.#taken.get(path)
    this.#taken.delete(path)
    if (early === undefined) return undefined
    const now = await identity(path).catch(() => undefined)
    return now === early.identity ? early.digest : undefined
  }
}

async function readBack(path: string, instantOf: InstantOf): Promise<Early | undefined> {
  const before = await identity(path)
  const digest = await digestFile(path, instantOf)
  const after = await identity(path)
  return before === after ? { digest, identity: after } : undefined
}
