/**
 * Debug log file rotated like the Python script's RotatingFileHandler: writes go to `path`; when a write would take it
 * past `maxBytes`, `path.N-1` → `path.N` … `path` → `path.1` (keeping `keep` old files) and a fresh `path` is opened.
 * Synchronous appends: a crash loses no log line, and the volume of a debug log makes that cheap.
 */
import { closeSync, constants, existsSync, fstatSync, openSync, renameSync, rmSync, writeSync } from 'node:fs'

export interface RotatingLogFileOptions {
  path: string
  maxBytes: number
  keep: number
}

/** Opens the log file for appending (0640 when created), never through a symbolic link. */
function openNoFollow(path: string): number {
  return openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o640)
}

/** A pino destination (`write(line)`) that rotates by size; `end()` closes it. */
export class RotatingLogFile {
  readonly #o: RotatingLogFileOptions
  #fd: number
  #size: number

  constructor(o: RotatingLogFileOptions) {
    this.#o = o
    this.#fd = openNoFollow(o.path)
    this.#size = fstatSync(this.#fd).size
  }

  write(line: string): boolean {
    const buf = Buffer.from(line, 'utf8')
    if (this.#size > 0 && this.#size + buf.length > this.#o.maxBytes) this.#rotate()
    writeSync(this.#fd, buf)
    this.#size += buf.length
    return true
  }

  #rotate(): void {
    const { path, keep } = this.#o
    closeSync(this.#fd)
    if (keep > 0) {
      rmSync(`${path}.${keep}`, { force: true })
      for (let i = keep - 1; i >= 1; i--) if (existsSync(`${path}.${i}`)) renameSync(`${path}.${i}`, `${path}.${i + 1}`)
      renameSync(path, `${path}.1`)
    } else {
      rmSync(path, { force: true })
    }
    this.#fd = openNoFollow(path)
    this.#size = 0
  }

  /** Closes the file. */
  end(): void {
    closeSync(this.#fd)
  }
}
