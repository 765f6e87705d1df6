/**
 * Files the tool writes, opened safely: never through a symbolic link (O_NOFOLLOW), only regular files (a FIFO or a
 * directory in the way is an error naming the path, never a hang), temp files under unpredictable names created
 * exclusively (O_EXCL), and small files replaced atomically (temp + fsync + rename + directory fsync: readers see the
 * old or the new content, never half).
 */
import { constants } from 'node:fs'
import { open, rename, unlink, type FileHandle } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { basename, dirname, join } from 'node:path'

const { O_WRONLY, O_RDWR, O_RDONLY, O_APPEND, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK } = constants

/** An error about `path` with a system code, as fs errors are, so the callers' messages name the path and reason. */
function fileError(path: string, message: string, code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${path} ${message}`), { code, path })
}

/**
 * Opens `path` without following a link and checks it is a regular file. O_NONBLOCK keeps a FIFO planted on the name
 * from blocking the open (it is then refused as not a regular file); it changes nothing for regular files.
 */
async function openRegular(path: string, flags: number, mode?: number): Promise<FileHandle> {
  let fh: FileHandle
  try {
    fh = await open(path, flags | O_NOFOLLOW | O_NONBLOCK, mode)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ELOOP') throw fileError(path, 'is a symbolic link; y360-audit never writes through links: replace it with the file itself', 'ELOOP')
    if (code === 'ENXIO') throw fileError(path, 'is a FIFO or socket, not a regular file: move it away', 'ENXIO')
    throw err
  }
  try {
    const st = await fh.stat()
    if (!st.isFile()) throw fileError(path, `is ${st.isDirectory() ? 'a directory' : 'not a regular file'}: move it away`, st.isDirectory() ? 'EISDIR' : 'EINVAL')
  } catch (err) {
    await fh.close()
    throw err
  }
  return fh
}

/** Opens `path` for appending (created 0640 exactly, whatever the umask: the SIEM group reads it). */
export async function openAppend(path: string, mode = 0o640): Promise<FileHandle> {
  return (await openAppendTelling(path, mode)).fh
}

/** `openAppend`, telling whether this call created the file. */
export async function openAppendTelling(path: string, mode = 0o640): Promise<{ fh: FileHandle; created: boolean }> {
  try {
    const fh = await openRegular(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL, mode)
    try {
      await fh.chmod(mode)
    } catch (err) {
      await fh.close()
      throw err
    }
    return { fh, created: true }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  }
  return { fh: await openRegular(path, O_WRONLY | O_APPEND), created: false }
}

/** Opens an existing regular file for reading and writing (tail repair), never through a link. */
export function openUpdate(path: string): Promise<FileHandle> {
  return openRegular(path, O_RDWR)
}

/** Opens an existing regular file for reading, never through a link (a FIFO would block a reader forever). */
export function openRead(path: string): Promise<FileHandle> {
  return openRegular(path, O_RDONLY)
}

/** A new temp file beside `path`, under a name nobody can plant a link on in advance; `mode` exactly. */
export async function createTemp(path: string, tag: string, mode: number): Promise<{ fh: FileHandle; tmp: string }> {
  const tmp = join(dirname(path), `.${basename(path)}.${tag}-${randomBytes(6).toString('hex')}.tmp`)
  const fh = await openRegular(tmp, O_WRONLY | O_CREAT | O_EXCL, mode)
  try {
    await fh.chmod(mode)
  } catch (err) {
    await fh.close()
    await unlink(tmp).catch(() => undefined) // the chmod error is the one to report
    throw err
  }
  return { fh, tmp }
}

/** Names of temp files `createTemp` makes for files of `dir` (stale ones of dead runs can be recognised and removed). */
export const TEMP_NAME = /^\..+\.[a-z]+-[0-9a-f]{12}\.tmp$/

/** Replaces `path` with `text` atomically (mode applies to the new file); throws the fs error with its code. */
export async function writeFileAtomic(path: string, text: string, mode = 0o640): Promise<void> {
  const { fh, tmp } = await createTemp(path, 'write', mode)
  try {
    await fh.writeFile(text)
    await fh.sync()
  } catch (err) {
    await fh.close()
    await unlink(tmp).catch(() => undefined) // the write error is the one to report
    throw err
  }
  await fh.close()
  try {
    await rename(tmp, path) // replaces a link at `path` itself, never its target
  } catch (err) {
    await unlink(tmp).catch(() => undefined)
    throw err
  }
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
