/** Atomic small-file writes: tmp file in the same directory + fsync + rename + directory fsync; readers see old or new, never half. */
import { open, rename, unlink } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'

/** Replaces `path` with `text` atomically (mode applies to the new file); throws the fs error with its code. */
export async function writeFileAtomic(path: string, text: string, mode = 0o640): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}`)
  const fh = await open(tmp, 'w', mode)
  try {
    await fh.writeFile(text)
    await fh.sync()
  } catch (err) {
    await fh.close()
    await unlink(tmp).catch(() => undefined) // the write error is the one to report
    throw err
  }
  await fh.close()
  await rename(tmp, path)
  await syncDir(dirname(path))
}

/** fsync of a directory, so a rename survives a power loss. */
export async function syncDir(dir: string): Promise<void> {
  const d = await open(dir, 'r')
  try {
    await d.sync()
  } finally {
    await d.close()
  }
}
