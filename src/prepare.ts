/**
 * Directories the tool writes into: judged without touching the disk while the configuration is validated
 * (`checkDir`), and created (exactly 0750) and probed only once the configuration is known valid (`prepareDir`).
 * A rejected configuration leaves no trace on disk.
 */
import { accessSync, chmodSync, constants, mkdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { dirname, resolve } from 'node:path'

/** Why a missing `dir` could not be created, judged without creating it: the nearest existing ancestor. */
function creatable(dir: string): string | undefined {
  let up = dirname(dir)
  for (;;) {
    try {
      const st = statSync(up)
      if (!st.isDirectory()) return `${up} is not a directory`
      accessSync(up, constants.W_OK)
      return undefined
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code !== 'ENOENT') return `${up}: ${(err as Error).message}`
      if (dirname(up) === up) return `${up} does not exist`
      up = dirname(up)
    }
  }
}

/**
 * The problem with `dir` as a directory to write into (or, with `mustExist`, to read), without changing the disk;
 * undefined when there is none. `what` names it in the message ("the mail directory (--mail-dir)").
 */
export function checkDir(dir: string, what: string, mustExist = false): string | undefined {
  if (dir.includes('\0')) return `${what} contains a NUL byte`
  let st
  try {
    st = statSync(dir)
  } catch {
    if (mustExist) return `${what} ${dir} does not exist`
    const why = creatable(dir)
    return why === undefined ? undefined : `${what} ${dir} cannot be created: ${why}`
  }
  if (!st.isDirectory()) return `${what} ${dir} is not a directory`
  if (mustExist) return undefined
  try {
    accessSync(dir, constants.W_OK)
  } catch (err) {
    return `${what} ${dir} is not writable: ${(err as Error).message}`
  }
  return undefined
}

/** Creates `dir` (exactly 0750) when missing and probes a write. Returns the problem, and whether it was created. */
export function prepareDir(dir: string, what: string): { problem?: string; created: boolean } {
  const problem = checkDir(dir, what)
  if (problem !== undefined) return { problem, created: false }
  let created = false
  try {
    statSync(dir)
  } catch {
    try {
      mkdirSync(dir, { recursive: true, mode: 0o750 })
      chmodSync(dir, 0o750) // exactly 0750 whatever the umask
      created = true
    } catch (err) {
      return { problem: `${what} ${dir} cannot be created: ${(err as Error).message}`, created }
    }
  }
  try {
    // An unpredictable name, created exclusively: a link planted on a probe name is never followed.
    const probe = resolve(dir, `.y360-audit-probe-${randomBytes(6).toString('hex')}`)
    writeFileSync(probe, '', { flag: 'wx' })
    unlinkSync(probe)
  } catch (err) {
    return { problem: `${what} ${dir} is not writable: ${(err as Error).message}`, created }
  }
  return { created }
}
