/** Writing into the archive: whole writes, and the repair of a torn last line. */
import type { FileHandle } from 'node:fs/promises'
import { openAppend, openUpdate } from '../atomic.js'
import { tornFile } from './layout.js'
import { linesBackward, MAX_LINE } from './lines.js'

/** Writes all of `buf` at the end of the file: a short write (a disk filling up) continues, so no half line is left by us. */
export async function writeAll(fh: FileHandle, buf: Buffer): Promise<void> {
  let off = 0
  while (off < buf.length) {
    const { bytesWritten } = await fh.write(buf, off, buf.length - off)
    if (bytesWritten <= 0) throw Object.assign(new Error('the write made no progress'), { code: 'EIO' })
    off += bytesWritten
  }
}

export interface TornTail {
  path: string
  bytes: number
  sidecar: string
}

/** Copies bytes [from, to) of `src` to the end of `dst`, a block at a time (a torn tail can be gigabytes of junk). */
async function copyRange(src: FileHandle, dst: FileHandle, from: number, to: number): Promise<void> {
  const block = Buffer.allocUnsafe(Math.min(1024 * 1024, Math.max(1, to - from)))
  for (let pos = from; pos < to; ) {
    const { bytesRead } = await src.read(block, 0, Math.min(block.length, to - pos), pos)
    if (bytesRead <= 0) throw new Error(`short read at ${pos}`)
    await writeAll(dst, block.subarray(0, bytesRead))
    pos += bytesRead
  }
}

/**
 * Repairs a torn tail: a last line without '\n', longer than the line bound, or that `valid` rejects, is appended to
 * `<file>.torn` and cut from the file (sidecar written and synced before the truncate, so a crash between them loses
 * nothing). At most three lines are cut: a crash tears one line; more damage is left for verify to report.
 */
export async function repairTail(path: string, valid: (line: string) => boolean, maxLine = MAX_LINE): Promise<TornTail | undefined> {
  const fh = await openUpdate(path)
  try {
    const size = (await fh.stat()).size
    if (size === 0) return undefined
    let cut = size // bytes [cut, size) are torn
    const last = Buffer.alloc(1)
    await fh.read(last, 0, 1, size - 1)
    let checked = 0
    for await (const line of linesBackward(fh, size, maxLine)) {
      const complete = line.offset + line.bytes < size || last[0] === 0x0a
      if (complete && line.text !== undefined && line.text.trim() !== '' && valid(line.text)) break
      cut = line.offset
      if (++checked >= 3) break
    }
    if (cut === size) return undefined
    const sidecar = tornFile(path)
    const side = await openAppend(sidecar)
    try {
      await copyRange(fh, side, cut, size)
      if (last[0] !== 0x0a) await writeAll(side, Buffer.from('\n'))
      await side.sync()
    } finally {
      await side.close()
    }
    await fh.truncate(cut)
    await fh.sync()
    return { path, bytes: size - cut, sidecar }
  } finally {
    await fh.close()
  }
}
