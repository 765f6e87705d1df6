/**
 * What the process entry point (cli.ts) needs besides `main`, as plain functions (cli.ts itself runs the command as it
 * is loaded): stop signals as exit codes, crash traces without the token, whether stderr is systemd's journal, and
 * the heap: whether the user chose its size, and the cap on the young generation's growth.
 */
import { fstatSync, readFileSync } from 'node:fs'
import { PerformanceObserver } from 'node:perf_hooks'
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8'
import { join } from 'node:path'
import { EXIT_CODES, Y360Error } from './errors.js'
import { TOKEN_CREDENTIAL, scrubSecrets } from './secrets.js'

/** The exit code of a stop by `sig`: 143 for SIGTERM, 130 (INTERRUPTED) for SIGINT. */
export function signalCode(sig: NodeJS.Signals): number {
  return sig === 'SIGTERM' ? 143 : EXIT_CODES.INTERRUPTED
}

/** The stop signal's reason, as the run reports it (INTERRUPTED, naming the signal). */
export function stopError(sig: NodeJS.Signals): Y360Error {
  return Object.assign(new Y360Error('INTERRUPTED', `stopped by ${sig}`), { signal: sig })
}

/** The file a token may come from (--token-file, Y360_TOKEN_FILE, the systemd credential), read leniently. */
function tokenFileSecret(argv: readonly string[], env: NodeJS.ProcessEnv): string | undefined {
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
function scrubCrash(text: string, argv: readonly string[], env: NodeJS.ProcessEnv): string {
  const secrets = [env.OAUTH_TOKEN_ARG, tokenFileSecret(argv, env)]
  argv.forEach((a, i) => {
    if (a === '--token') secrets.push(argv[i + 1])
    else if (a.startsWith('--token=')) secrets.push(a.slice('--token='.length))
  })
  return scrubSecrets(text, secrets)
}

/** The crash trace of `err` as written to stderr: the token scrubbed. */
export function crashText(err: unknown, argv: readonly string[], env: NodeJS.ProcessEnv): string {
  return scrubCrash(`y360-audit: internal error: ${err instanceof Error ? err.stack : String(err)}\n`, argv, env)
}

/** stderr is the journal stream systemd set up (JOURNAL_STREAM = its device:inode), not a redirect inherited with it. */
export function stderrIsJournal(env: NodeJS.ProcessEnv): boolean {
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

/** A heap size (or growth factor) the user chose, on node's command line or in NODE_OPTIONS: left as it is. */
export function heapChosen(execArgv: readonly string[], env: NodeJS.ProcessEnv): boolean {
  return [...execArgv, ...(env.NODE_OPTIONS ?? '').split(/\s+/)].some((a) => /^--(max[-_]old[-_]space[-_]size|max[-_]semi[-_]space[-_]size|heap[-_]growing[-_]percent|semi[-_]space[-_]growth[-_]factor)/.test(a))
}

/**
 * The young generation's size (its two semi-spaces) past which it grows no more: by default V8 doubles it up to 32 MiB
 * on Node 20 and 64 MiB on Node 24 while much of it survives (a 1,000,000-record run then peaked at 164 MiB on Node 24).
 */
export const YOUNG_CAP = 16 * 1048576

/**
 * Stops the young generation's growth once it reaches YOUNG_CAP. V8 reads the growth factor each time it grows the
 * young generation, after a collection; its size can only be capped when the heap is made (`--max-semi-space-size`,
 * the launcher's way), so the factor is set to 1 from a collection's report. Kept at its initial 2 MiB instead, it is
 * collected ~20 times as often as at 32 MiB: a quarter of a second more of a 200,000-record run (bench/RESULTS.md).
 */
export function capYoungGeneration(): void {
  const gc = new PerformanceObserver(() => {
    const young = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')
    if (young === undefined || young.space_size < YOUNG_CAP) return
    setFlagsFromString('--semi-space-growth-factor=1')
    gc.disconnect()
  })
  gc.observe({ entryTypes: ['gc'] })
}
