#!/usr/bin/env node
/**
 * y360-audit command line: the process around `main` (src/main.ts). Fills the Io from `process`, turns SIGINT/SIGTERM
 * into the stop signal (a second one exits at once), scrubs the token from crash traces, sets the exit code.
 *
 * Memory is bounded however the CLI is started. The installed command is bin/y360-audit, a POSIX sh launcher that
 * execs this file with V8's heap capped (no `env -S` in the shebang: BusyBox has none). Started any other way
 * (`./dist/src/cli.js`, `node dist/src/cli.js`) without a heap size of the user's, a command that fetches or reads
 * archives runs in a worker thread whose heap is capped the same way (`resourceLimits`: V8 sizes a heap's young
 * generation when the heap is made, so the process's own cannot be bounded once it runs, and by default it takes
 * 32 MiB). Help, version and the emulator run here, at once.
 */
import { setFlagsFromString } from 'node:v8'
import { Worker } from 'node:worker_threads'
import { crashText, signalCode, stderrIsJournal, stopError } from './entry.js'
import { EXIT_CODES } from './errors.js'
import type { Io } from './io.js'
import type { WorkerSignal, WorkerStart } from './worker.js'

/** The heap of the run's thread: what the sh launcher gives the process (`--max-old-space-size=256`), and a young
 * generation of three 4 MiB semi-spaces (the launcher's 8 MiB ones kept the peak RSS at 1M records ~15 MiB higher). */
const WORKER_LIMITS = { maxOldGenerationSizeMb: testHeapMb() ?? 256, maxYoungGenerationSizeMb: 12 }

/**
 * Test seam: Y360_TEST_WORKER_HEAP_MB=n gives the run's thread an old generation of n MiB instead, so that a test can
 * make it run out of memory (the design keeps a run far under 256 MiB: 20,000 records fit in 16).
 */
function testHeapMb(): number | undefined {
  const v = process.env.Y360_TEST_WORKER_HEAP_MB
  return v !== undefined && /^[1-9]\d*$/.test(v) ? Number(v) : undefined
}

const argv = process.argv.slice(2)
const crash = (err: unknown): void => {
  process.stderr.write(crashText(err, argv, process.env))
  process.exit(EXIT_CODES.INTERNAL)
}

/** A heap size the user chose, on node's command line or in NODE_OPTIONS: left as it is. */
function heapChosen(execArgv: readonly string[], env: NodeJS.ProcessEnv): boolean {
  return [...execArgv, ...(env.NODE_OPTIONS ?? '').split(/\s+/)].some((a) => /^--(max[-_]old[-_]space[-_]size|max[-_]semi[-_]space[-_]size|heap[-_]growing[-_]percent)/.test(a))
}

/** Words that keep the command in this thread: help, the version, the emulator (it sizes no archive). */
const HERE = new Set(['-h', '--help', '-V', '--version', 'help', 'emulator'])

/**
 * Whether argv's command runs in a thread of its own: one that fetches or reads archives, when the heap is ours to
 * size. Decided without loading the command line's parser (the thread loads it again): one of HERE anywhere before
 * `--`, even as an option's value, keeps the command here, which costs nothing but the young generation's bound.
 */
function inWorker(chosen: boolean): boolean {
  if (chosen) return false
  for (const a of argv) {
    if (a === '--') break
    if (HERE.has(a)) return false
  }
  return true
}

/**
 * Stops the run on the first SIGINT/SIGTERM (`stop`: flush + fsync + exit 130/143); a second one exits at once. Kept
 * to the end of the process: a second signal while the last lines are logged still exits with its code at once,
 * instead of the default death by signal.
 */
function trapSignals(stop: (sig: NodeJS.Signals) => void): () => number | undefined {
  let code: number | undefined
  const handler = (sig: NodeJS.Signals): void => {
    if (code !== undefined) process.exit(signalCode(sig)) // second signal: the archive is a valid prefix at any instant
    code = signalCode(sig)
    stop(sig)
  }
  process.on('SIGINT', handler)
  process.on('SIGTERM', handler)
  return () => code
}

/** Runs the command in this thread, its Io filled from `process`. */
async function runHere(): Promise<void> {
  const ac = new AbortController()
  const interrupted = trapSignals((sig) => ac.abort(stopError(sig)))
  const io: Io = {
    env: process.env,
    cwd: process.cwd(),
    stdout: process.stdout,
    stderr: process.stderr,
    tty: process.stderr.isTTY === true,
    journal: stderrIsJournal(process.env),
    columns: process.stderr.columns,
    now: Date.now,
    signal: ac.signal,
    interrupted,
  }
  const { main } = await import('./main.js')
  process.exitCode = await main(argv, io)
}

/** Runs the command in a worker thread with a bounded heap (worker.ts); its exit code becomes the process's. */
function runInWorker(): void {
  const data: WorkerStart = { argv, tty: process.stderr.isTTY === true, columns: process.stderr.columns, journal: stderrIsJournal(process.env) }
  const worker = new Worker(new URL('./worker.js', import.meta.url), { argv, workerData: data, resourceLimits: WORKER_LIMITS, stdin: false })
  trapSignals((signal) => worker.postMessage({ signal } satisfies WorkerSignal))
  worker.on('error', (err: Error & { code?: string }) => {
    if (err.code !== 'ERR_WORKER_OUT_OF_MEMORY') return crash(err)
    process.stderr.write(`y360-audit: out of memory: the run's heap passed ${WORKER_LIMITS.maxOldGenerationSizeMb} MiB (give node a larger --max-old-space-size to run it in the process instead)\n`)
    process.exit(EXIT_CODES.INTERNAL)
  })
  worker.on('exit', (code) => {
    process.exitCode = code
  })
}

process.on('uncaughtException', crash)
const chosen = heapChosen(process.execArgv, process.env)
// V8 lets a heap grow to several times what is live before collecting; 20% at a time keeps the peak near what is held
// (bench/RESULTS.md). V8 reads this factor at every collection, and for every thread's heap: set now, it takes effect.
if (!chosen) setFlagsFromString('--heap-growing-percent=20')
if (inWorker(chosen)) runInWorker()
else runHere().catch(crash)
