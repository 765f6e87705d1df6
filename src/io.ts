import type { Timer } from './sources/limiter.js'

/**
 * The process as the commands see it: arguments, environment, working directory, the two output streams, whether
 * stderr is a terminal, a clock, and the stop signal. The bin (cli.ts) fills it from `process`; tests fill it with
 * their own streams and run a command in-process.
 */
export interface Io {
  env: NodeJS.ProcessEnv
  cwd: string
  stdout: NodeJS.WritableStream
  stderr: NodeJS.WritableStream
  /** stderr is a terminal (progress line, human log lines). */
  tty: boolean
  /** Width of the terminal, when known. */
  columns?: number
  /** Wall clock, epoch ms. */
  now: () => number
  /**
   * The clock the waits of a fetch run on (retry backoffs, Retry-After pauses, the per-host rate), default the real
   * one. Tests give a fake clock whose sleep only moves it, so a 429 waited for costs no real time.
   */
  timer?: Timer
  /** Aborted by SIGINT/SIGTERM; its reason is the INTERRUPTED error to report. */
  signal: AbortSignal
  /** Exit code of the stop signal received (130 SIGINT, 143 SIGTERM), undefined while none was. */
  interrupted(): number | undefined
  /** The reader of stdout has left (EPIPE): stop writing, end with exit 0. Set by main for every command. */
  readerGone?: () => boolean
  /** cli.ts set V8's heap growth factors (no heap size of the user's): logged with the heap limit at debug level. */
  heapFactors?: boolean
  /** stderr is systemd's journal stream (JOURNAL_STREAM names its device:inode): log lines get a syslog priority. */
  journal?: boolean
}
