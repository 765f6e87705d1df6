#!/usr/bin/env node
/**
 * y360-audit command line: the process around `main` (src/main.ts). Fills the Io from `process`, turns SIGINT/SIGTERM
 * into the stop signal (a second one exits at once), scrubs the token from crash traces, sets the exit code.
 * The installed command is bin/y360-audit, a POSIX sh launcher that execs this file with V8's heap capped (no `env -S`
 * in the shebang: BusyBox has none); run directly (`./dist/src/cli.js`, `node dist/src/cli.js`) it runs uncapped.
 */
import { fstatSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { setFlagsFromString } from 'node:v8'
import { EXIT_CODES, Y360Error } from './errors.js'
import type { Io } from './io.js'
import { main } from './main.js'
import { TOKEN_CREDENTIAL, scrubSecrets } from './secrets.js'

/** Stops the run on the first SIGINT/SIGTERM (flush + fsync + exit 130/143); a second one exits at once. */
function trapSignals(): { signal: AbortSignal; code: () => number | undefined } {
  const ac = new AbortController()
  let code: number | undefined
  const handler = (sig: NodeJS.Signals): void => {
    const c = sig === 'SIGTERM' ? 143 : EXIT_CODES.INTERRUPTED
    if (code !== undefined) process.exit(c) // second signal: the archive is a valid prefix at any instant
    code = c
    ac.abort(Object.assign(new Y360Error('INTERRUPTED', `stopped by ${sig}`), { signal: sig }))
  }
  // Kept to the end of the process: a second signal while the last lines are logged still exits with its code at
  // once, instead of the default death by signal.
  process.on('SIGINT', handler)
  process.on('SIGTERM', handler)
  return { signal: ac.signal, code: () => code }
}

/** The file a token may come from (--token-file, Y360_TOKEN_FILE, the systemd credential), read leniently. */
function tokenFileSecret(argv: string[], env: NodeJS.ProcessEnv): string | undefined {
  let file = env.Y360_TOKEN_FILE
  argv.forEach((a, i) => {
    if (a === '--token-file') file = argv[i + 1]
    else if (a.startsWith('--token-file=')) file = a.slice('--token-file='.length)
  })
  if ((file === undefined || file === '') && env.CREDENTIALS_DIRECTORY) file = join(env.CREDENTIALS_DIRECTORY, TOKEN_CREDENTIAL)
  try {
    return file ? readFileSync(file, 'utf8').replace(/\r?\n$/, '') : undefined
  } catch {
    return undefined // a crash trace is written anyway; the configuration reports an unreadable token file itself
  }
}

/** `text` without any token this process was given (environment, --token, a token file), for crash traces that bypass the logger. */
function scrubCrash(text: string, argv: string[], env: NodeJS.ProcessEnv): string {
  const secrets = [env.OAUTH_TOKEN_ARG, tokenFileSecret(argv, env)]
  argv.forEach((a, i) => {
    if (a === '--token') secrets.push(argv[i + 1])
    else if (a.startsWith('--token=')) secrets.push(a.slice('--token='.length))
  })
  return scrubSecrets(text, secrets)
}

/** stderr is the journal stream systemd set up (JOURNAL_STREAM = its device:inode), not a redirect inherited with it. */
function stderrIsJournal(env: NodeJS.ProcessEnv): boolean {
  const want = env.JOURNAL_STREAM
  if (want === undefined || want === '') return false
  try {
    const st = fstatSync(2)
    return want === `${st.dev}:${st.ino}`
  } catch (err) {
    process.emitWarning(`cannot stat stderr to compare with JOURNAL_STREAM: ${(err as Error).message}`)
    return false
  }
}

/**
 * Bounds memory however the CLI was started (the sh launcher, `node dist/src/cli.js`, `env` without -S): V8 lets the
 * heap grow to several times what is live before collecting (the live heap stays under 30 MB, the peak RSS reached
 * 250 MB at 200,000 records). A heap growing by 20% at a time keeps the peak near 140 MB for ~15% more CPU in GC
 * (bench/RESULTS.md). V8 reads this factor at every collection, so setting it now takes effect; a heap size the user
 * chose (`--max-old-space-size` on the command line or in NODE_OPTIONS) is left as it is.
 */
function boundHeapGrowth(execArgv: readonly string[], env: NodeJS.ProcessEnv): void {
  const chosen = [...execArgv, ...(env.NODE_OPTIONS ?? '').split(/\s+/)].some((a) => /^--(max[-_]old[-_]space[-_]size|heap[-_]growing[-_]percent)/.test(a))
  if (!chosen) setFlagsFromString('--heap-growing-percent=20')
}

const crash = (err: unknown): void => {
  process.stderr.write(scrubCrash(`y360-audit: internal error: ${err instanceof Error ? err.stack : String(err)}\n`, process.argv, process.env))
  process.exit(EXIT_CODES.INTERNAL)
}
process.on('uncaughtException', crash)
boundHeapGrowth(process.execArgv, process.env)
const signals = trapSignals()
const io: Io = {
  env: process.env,
  cwd: process.cwd(),
  stdout: process.stdout,
  stderr: process.stderr,
  tty: process.stderr.isTTY === true,
  journal: stderrIsJournal(process.env),
  columns: process.stderr.columns,
  now: Date.now,
  signal: signals.signal,
  interrupted: signals.code,
}
main(process.argv.slice(2), io).then((code) => {
  process.exitCode = code
}, crash)
