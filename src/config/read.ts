/**
 * Reads the small files configuration names (a config file, a token file) whole, synchronously, before anything
 * runs: links are followed (Kubernetes Secret volumes are links), a FIFO planted on the path is refused without
 * waiting on it (O_NONBLOCK), and so is a directory or a file larger than the caller's bound.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs'

/** `what` names the file in problems ("the token file (--token-file)"), `kind` what it should be ("token file"). */
export function readSmallFile(path: string, maxBytes: number, what: string, kind: string): { text?: string; mode?: number; problem?: string } {
  let fd: number | undefined
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK)
    const st = fstatSync(fd)
    if (!st.isFile()) return { problem: `${what} ${path} is not a regular file` }
    if (st.size > maxBytes) return { problem: `${what} ${path} is ${st.size} bytes: not a ${kind}` }
    const buf = Buffer.alloc(st.size)
    let n = 0
    while (n < buf.length) {
      const r = readSync(fd, buf, n, buf.length - n, n)
      if (r === 0) break
      n += r
    }
    return { text: buf.subarray(0, n).toString('utf8'), mode: st.mode }
  } catch (err) {
    return { problem: `cannot read ${what} ${path}: ${(err as Error).message}` }
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}
