/**
 * FdWriter: a Writable over a file descriptor, written synchronously, as Node writes its own stdout and stderr to
 * files and pipes. The run's worker thread (cli.ts) writes fd 1 and fd 2 through these instead of its relayed
 * `process.stdout`/`process.stderr`: a reader that left shows as EPIPE on this stream, in the thread that can act on it
 * (main.ts), and nothing written is still queued in another thread when the run ends or exits.
 */
import { writeSync } from 'node:fs'
import { Writable } from 'node:stream'

/** Waited between two tries when the descriptor is non-blocking and full (EAGAIN), ms. */
const FULL_WAIT_MS = 1
const nap = new Int32Array(new SharedArrayBuffer(4))

/** Writes all of `buf` to `fd`; a full non-blocking descriptor is waited for, any other error thrown. */
export function writeFully(fd: number, buf: Uint8Array): void {
  for (let off = 0; off < buf.length; ) {
    try {
      off += writeSync(fd, buf, off, buf.length - off)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err
      Atomics.wait(nap, 0, 0, FULL_WAIT_MS) // a thread of our own: blocking it is what a blocking descriptor does
    }
  }
}

export class FdWriter extends Writable {
  constructor(readonly fd: number) {
    super({ decodeStrings: true })
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    try {
      writeFully(this.fd, chunk)
    } catch (err) {
      cb(err as Error)
      return
    }
    cb()
  }
}
