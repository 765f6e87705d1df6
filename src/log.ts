/** Logging: pino to stderr (pretty on a TTY, JSON otherwise) and a rotating debug file; secrets scrubbed from every line. */
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

/** Builds the logger; the file destination rotates at maxBytes keeping `keep` old files. */
export async function createLogger(opts: LogOptions): Promise<LogHandle> {
  const stderr: Line = opts.stderr ?? process.stderr
  const streams: pino.StreamEntry[] = []
  if (opts.level !== 'silent') {
    // pino-pretty loads only when used: start-up time matters for cron runs.
    const human = opts.pretty ? (await import('pino-pretty')).default({ destination: stderr as NodeJS.WritableStream, sync: true, colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }) : stderr
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
    streams.push({ level: 'debug', stream: scrubbing(guarded, opts.secrets) as pino.DestinationStream })
  }
  const log = pino(
    {
      level: 'debug',
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
