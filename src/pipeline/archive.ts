/** The archive on disk: `<dir>/<base>_<YYYY-MM-DD>.<ext>` files, listed, read backwards and repaired. */
import { open, readdir, stat, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { Y360Error } from '../errors.js'
import { isObject, type EndpointDescriptor } from '../sources/descriptor.js'
import type { Micros } from '../time.js'

export interface ArchiveFile {
  day: string
  path: string
}

export interface ArchiveId {
  dir: string
  base: string
  ext: string
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/** Path of the file for `day`. */
export function dayFile(a: ArchiveId, day: string): string {
  return join(a.dir, `${a.base}_${day}.${a.ext}`)
}

/** The archive's day files, oldest first (other files in the directory are ignored). */
export async function listArchive(a: ArchiveId): Promise<ArchiveFile[]> {
  const re = new RegExp(`^${escapeRe(a.base)}_(\\d{4}-\\d{2}-\\d{2})\\.${escapeRe(a.ext)}$`)
  let names: string[]
  try {
    names = await readdir(a.dir)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw new Y360Error('SINK_WRITE', `cannot list the archive directory ${a.dir}: ${(err as Error).message}`, { path: a.dir }, { cause: err })
  }
  const files: ArchiveFile[] = []
  for (const name of names) {
    const m = re.exec(name)
    if (m !== null) files.push({ day: m[1], path: join(a.dir, name) })
  }
  return files.sort((x, y) => (x.day < y.day ? -1 : x.day > y.day ? 1 : 0))
}

export interface BackwardLine {
  text: string
  /** Byte offset of the line's first byte. */
  offset: number
}

/** Complete lines of a file from its end to its start, a block at a time; `end` limits the bytes read. */
export async function* linesBackward(fh: FileHandle, end: number, blockSize = 64 * 1024): AsyncGenerator<BackwardLine> {
  let pos = end
  let carry: Buffer = Buffer.alloc(0)
  while (pos > 0) {
    const start = Math.max(0, pos - blockSize)
    const buf = Buffer.allocUnsafe(pos - start)
    const { bytesRead } = await fh.read(buf, 0, buf.length, start)
    if (bytesRead !== buf.length) throw new Error(`short read at ${start}`)
    pos = start
    const chunk = carry.length > 0 ? Buffer.concat([buf, carry]) : buf
    let stop = chunk.length
    for (let i = chunk.length - 1; i >= 0; i--) {
      if (chunk[i] !== 0x0a) continue
      if (i + 1 < stop) yield { text: chunk.toString('utf8', i + 1, stop), offset: start + i + 1 }
      stop = i
    }
    carry = Buffer.from(chunk.subarray(0, stop))
  }
  if (carry.length > 0) yield { text: carry.toString('utf8'), offset: 0 }
}

/** Size of a file, 0 when it does not exist. */
export async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0
    throw err
  }
}

export interface TornTail {
  path: string
  bytes: number
  sidecar: string
}

/**
 * Repairs a torn tail: a last line without '\n', or a last line that `valid` rejects, is appended to `<file>.torn`
 * and cut from the file (sidecar written and synced before the truncate, so a crash between them loses nothing).
 */
export async function repairTail(path: string, valid: (line: string) => boolean): Promise<TornTail | undefined> {
  const fh = await open(path, 'r+')
  try {
    const size = (await fh.stat()).size
    if (size === 0) return undefined
    let cut = size // bytes [cut, size) are torn
    const last = Buffer.alloc(1)
    await fh.read(last, 0, 1, size - 1)
    let checked = 0
    for await (const line of linesBackward(fh, size)) {
      const complete = line.offset + Buffer.byteLength(line.text) < size || last[0] === 0x0a
      if (complete && line.text.trim() !== '' && valid(line.text)) break
      cut = line.offset
      if (++checked >= 3) break // a crash tears one line; more damage is reported by verify, not cut here
    }
    if (cut === size) return undefined
    const torn = Buffer.alloc(size - cut)
    await fh.read(torn, 0, torn.length, cut)
    const sidecar = `${path}.torn`
    const side = await openAppend(sidecar)
    try {
      await side.write(torn[torn.length - 1] === 0x0a ? torn : Buffer.concat([torn, Buffer.from('\n')]))
      await side.sync()
    } finally {
      await side.close()
    }
    await fh.truncate(cut)
    await fh.sync()
    return { path, bytes: torn.length, sidecar }
  } finally {
    await fh.close()
  }
}

/** Opens `path` for appending; a file it creates gets exactly 0640 whatever the umask (the SIEM group reads it). */
export async function openAppend(path: string): Promise<FileHandle> {
  try {
    const fh = await open(path, 'ax', 0o640)
    try {
      await fh.chmod(0o640)
    } catch (err) {
      await fh.close()
      throw err
    }
    return fh
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  }
  return open(path, 'a')
}

/** Instant and parsed content of an archive line; undefined when it is not a record of this endpoint (bad JSON, no timestamp). */
export function lineInstant(ep: EndpointDescriptor, text: string): { us: Micros; data: Record<string, unknown> } | undefined {
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch {
    return undefined
  }
  if (!isObject(data)) return undefined
  const us = ep.timestamp(data)
  return us === undefined ? undefined : { us, data }
}
