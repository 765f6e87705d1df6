/**
 * Logging: pino to stderr and a rotating debug file; secrets scrubbed from every line. On a terminal: short human lines
 * (time, level, message; the fields only at --log-level debug; colour unless NO_COLOR or TERM=dumb). Elsewhere: JSON
 * lines with level names (`"level":"info"`), prefixed with the syslog priority (`<6>`) when stderr is the journal.
 */
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import pino from 'pino'
import { Y360Error } from './errors.js'
import { RotatingLogFile } from './logfile.js'
import { scrubber, secretForms } from './secrets.js'

export type Logger = pino.Logger

export interface LogOptions {
  level: 'debug' | 'info' | 'warn' | 'error' | 'silent'
  /** stderr is a terminal: human-readable lines. */
  pretty: boolean
  /** Colour on the terminal (off for NO_COLOR, TERM=dumb). */
  color?: boolean
  /** stderr is systemd's journal: JSON lines start with `<priority>` so `journalctl -p err` finds the errors. */
  journal?: boolean
  /** Rotating debug log file; undefined = none. */
  file?: { path: string; maxBytes: number; keep: number }
  /** Strings that must never be written (the token). */
  secrets: string[]
  /** Where stderr lines go (tests pass a capture). */
  stderr?: NodeJS.WritableStream
}

export interface LogHandle {
  log: Logger
  /** Flushes and closes the file destination. */
  close(): Promise<void>
}

type Line = { write(s: string): unknown }

/** Wraps a destination so that no secret reaches it, whatever path the text took. */
function scrubbing(dest: Line, secrets: string[]): Line {
  if (secrets.every((s) => secretForms(s).length === 0)) return dest
  const scrub = scrubber(secrets)
  return { write: (s: string) => dest.write(scrub(s)) }
}

const LEVEL_NAMES: Readonly<Record<string, string>> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' }
const SYSLOG: Readonly<Record<string, number>> = { 10: 7, 20: 7, 30: 6, 40: 4, 50: 3, 60: 2 }
const LEVEL_FIELD = /^\{"level":(\d\d),/

/**
 * JSON lines with the level's name instead of pino's number (what people and journald read), optionally after the
 * syslog priority. pino writes `level` first (no base fields), so only the line's start is rewritten.
 */
function namedLevels(dest: Line, journal: boolean): Line {
  return {
    write(s: string) {
      const m = LEVEL_FIELD.exec(s)
      if (m === null) return dest.write(s)
      const named = `{"level":"${LEVEL_NAMES[m[1]] ?? m[1]}",${s.slice(m[0].length)}`
      return dest.write(journal ? `<${SYSLOG[m[1]] ?? 6}>${named}` : named)
    },
  }
}

/** Builds the logger; the file destination rotates at maxBytes keeping `keep` old files. */
export async function createLogger(opts: LogOptions): Promise<LogHandle> {
  const stderr: Line = opts.stderr ?? process.stderr
  const streams: pino.StreamEntry[] = []
  if (opts.level !== 'silent') {
    // pino-pretty loads only when used: start-up time matters for cron runs.
    // On a terminal the fields (a summary object, request ids) are shown only when asked for with --log-level debug.
    const human = opts.pretty
      ? (await import('pino-pretty')).default({ destination: stderr as NodeJS.WritableStream, sync: true, colorize: opts.color ?? true, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname', hideObject: opts.level !== 'debug' })
      : namedLevels(stderr, opts.journal === true)
    streams.push({ level: opts.level, stream: scrubbing(human, opts.secrets) as pino.DestinationStream })
  }
  let file: RotatingLogFile | undefined
  if (opts.file !== undefined) {
    const { path } = opts.file
    try {
      mkdirSync(dirname(path), { recursive: true, mode: 0o750 })
      file = new RotatingLogFile(opts.file)
    } catch (err) {
      // An unusable path must fail here, before the run, not crash it later.
      throw new Y360Error('CONFIG_INVALID', `cannot open the debug log file ${path}: ${(err as Error).message}; fix --log-file / Y360_LOG_FILE or pass --no-log-file`, { path }, { cause: err })
    }
    // A log file that fails later (disk full) must not kill a run that is writing the archive: say so once on stderr.
    const target = file
    let broken = false
    const guarded: Line = {
      write(line: string) {
        if (broken) return true
        try {
          return target.write(line)
        } catch (err) {
          broken = true
          stderr.write(`y360-audit: the debug log file ${path} cannot be written (${(err as Error).message}); continuing without it\n`)
          return true
        }
      },
    }
    streams.push({ level: 'debug', stream: namedLevels(scrubbing(guarded, opts.secrets), false) as pino.DestinationStream })
  }
  const log = pino(
    {
      // The lowest level a stream takes: a line no stream takes is not even built (with --quiet and no log file, the
      // per-window debug lines cost ~1% of a run's CPU to format and drop).
      level: file !== undefined ? 'debug' : opts.level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: ['token', '*.token', 'headers.authorization', '*.headers.authorization'], censor: '[REDACTED]' },
    },
    pino.multistream(streams, { dedupe: false }),
  )
  return {
    log,
    close: async () => {
      file?.end()
    },
  }
}
