/**
 * Checkpoint: the archive is the cursor. Resume point = newest timestamp near the end of the newest non-empty file;
 * the dedupe seed = keys of archived records within the overlap, read backwards from the end (into earlier day files
 * when the overlap crosses midnight). Torn tails are repaired first. Never reads whole files.
 */
import { open } from 'node:fs/promises'
import { canonicalKey, isObject, type EndpointDescriptor } from '../sources/descriptor.js'
import type { Logger } from '../log.js'
import type { Micros } from '../time.js'
import { linesBackward, listArchive, repairTail, type ArchiveId, type TornTail } from './archive.js'

export interface Checkpoint {
  /** Newest archived instant; undefined for an empty archive. */
  resume: Micros | undefined
  /** Canonical keys of archived records at or after resume − overlap, with their instants. */
  keys: Map<string, Micros>
  repaired: TornTail[]
  /** Lines near the end that did not parse (reported, skipped). */
  corrupt: number
}

export interface CheckpointOptions {
  archive: ArchiveId
  ep: EndpointDescriptor
  overlapUs: Micros
  log: Logger
}

/** Parses one archive line to (instant, key); undefined when it is not a record of this endpoint. */
export function parseLine(ep: EndpointDescriptor, text: string): { us: Micros; key: string } | undefined {
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch {
    return undefined
  }
  if (!isObject(data)) return undefined
  const us = ep.timestamp(data)
  return us === undefined ? undefined : { us, key: canonicalKey(data) }
}

/** Reads the checkpoint of one source's archive. */
export async function loadCheckpoint(o: CheckpointOptions): Promise<Checkpoint> {
  const files = (await listArchive(o.archive)).reverse() // newest first
  const keys = new Map<string, Micros>()
  const repaired: TornTail[] = []
  let corrupt = 0
  let newest: Micros | undefined
  const valid = (line: string): boolean => parseLine(o.ep, line) !== undefined
  scan: for (const f of files) {
    const torn = await repairTail(f.path, valid)
    if (torn !== undefined) {
      repaired.push(torn)
      o.log.warn({ source: o.ep.name, file: f.path, bytes: torn.bytes, sidecar: torn.sidecar }, `${o.ep.name}: torn last line of ${f.path} (${torn.bytes} bytes) moved to ${torn.sidecar}; it will be fetched again`)
    }
    const fh = await open(f.path, 'r')
    try {
      const size = (await fh.stat()).size
      if (size === 0) continue // empty files are skipped, as the Python script did
      for await (const line of linesBackward(fh, size)) {
        if (line.text.trim() === '') continue
        const rec = parseLine(o.ep, line.text)
        if (rec === undefined) {
          corrupt++
          o.log.warn({ source: o.ep.name, file: f.path, offset: line.offset }, `${o.ep.name}: unreadable line at byte ${line.offset} of ${f.path}; skipped`)
          continue
        }
        if (newest === undefined || rec.us > newest) newest = rec.us
        // Late arrivals may sit up to one overlap out of order, so read one more overlap before stopping.
        if (rec.us < newest - 2 * o.overlapUs) break scan
        if (rec.us >= newest - o.overlapUs) keys.set(rec.key, rec.us)
      }
    } finally {
      await fh.close()
    }
  }
  // Keys read before `newest` was final may be older than the seed window; drop them (bounded memory).
  if (newest !== undefined) for (const [k, us] of keys) if (us < newest - o.overlapUs) keys.delete(k)
  return { resume: newest, keys, repaired, corrupt }
}
