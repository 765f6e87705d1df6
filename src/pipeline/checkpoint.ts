/**
 * Checkpoint: the archive is the cursor. Resume point = timestamp of the last valid line of the newest non-empty file;
 * the dedupe seed = keys of archived records from the run's start on, read backwards from the end (into earlier day
 * files when the overlap crosses midnight). Torn tails are repaired first. Never reads whole files.
 */
import { open } from 'node:fs/promises'
import { canonicalKey, type EndpointDescriptor } from '../sources/descriptor.js'
import type { Logger } from '../log.js'
import type { Micros } from '../time.js'
import { lineInstant, linesBackward, listArchive, repairTail, type ArchiveId, type TornTail } from './archive.js'

export interface Checkpoint {
  /** Instant of the archive's last record (last valid line of the newest non-empty file); undefined when empty. */
  resume: Micros | undefined
  repaired: TornTail[]
  /**
   * Starts reading the dedupe seed: keys of archived records at or after `from`, backwards from the end. Runs while
   * the first requests are in flight (the Dedupe stage awaits it), so start-up does not wait for it.
   */
  seed(from: Micros): Promise<Seed>
}

export interface Seed {
  keys: Map<string, Micros>
  /** Lines near the end that did not parse (reported, skipped). */
  corrupt: number
}

export interface CheckpointOptions {
  archive: ArchiveId
  ep: EndpointDescriptor
  overlapUs: Micros
  log: Logger
}

/** Opens the checkpoint of one source's archive: repairs a torn tail and finds the resume point. */
export async function loadCheckpoint(o: CheckpointOptions): Promise<Checkpoint> {
  const files = (await listArchive(o.archive)).reverse() // newest first
  const repaired: TornTail[] = []
  const valid = (line: string): boolean => lineInstant(o.ep, line) !== undefined
  const repair = async (path: string): Promise<void> => {
    const torn = await repairTail(path, valid)
    if (torn === undefined) return
    repaired.push(torn)
    o.log.warn({ source: o.ep.name, file: path, bytes: torn.bytes, sidecar: torn.sidecar }, `${o.ep.name}: torn last line of ${path} (${torn.bytes} bytes) moved to ${torn.sidecar}; it will be fetched again`)
  }
  let resume: Micros | undefined
  let checked = 0 // files whose tail was repaired already
  find: for (const f of files) {
    await repair(f.path)
    checked++
    const fh = await open(f.path, 'r')
    try {
      const size = (await fh.stat()).size
      if (size === 0) continue // empty files are skipped, as the Python script did
      for await (const line of linesBackward(fh, size)) {
        const rec = line.text.trim() === '' ? undefined : lineInstant(o.ep, line.text)
        if (rec !== undefined) {
          resume = rec.us
          break find
        }
      }
    } finally {
      await fh.close()
    }
  }

  const seed = async (from: Micros): Promise<Seed> => {
    const keys = new Map<string, Micros>()
    let corrupt = 0
    // Late arrivals sit at most one overlap out of order: read one more overlap past `from` before stopping.
    const stop = from - o.overlapUs
    scan: for (const [i, f] of files.entries()) {
      if (i >= checked) await repair(f.path)
      const fh = await open(f.path, 'r')
      try {
        const size = (await fh.stat()).size
        for await (const line of linesBackward(fh, size)) {
          if (line.text.trim() === '') continue
          const rec = lineInstant(o.ep, line.text)
          if (rec === undefined) {
            corrupt++
            o.log.warn({ source: o.ep.name, file: f.path, offset: line.offset }, `${o.ep.name}: unreadable line at byte ${line.offset} of ${f.path}; skipped`)
            continue
          }
          if (rec.us < stop) break scan
          if (rec.us >= from) keys.set(canonicalKey(rec.data), rec.us)
        }
      } finally {
        await fh.close()
      }
    }
    return { keys, corrupt }
  }
  return { resume, repaired, seed }
}
