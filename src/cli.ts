#!/usr/bin/env node
/**
 * y360-audit command line: the process around `main` (src/main.ts). Fills the Io from `process`, turns SIGINT/SIGTERM
 * into the stop signal (a second one exits at once), scrubs the token from crash traces, sets the exit code.
 *
 * Memory is bounded by what the run holds (docs/DESIGN.md §2 "Bounded memory"), however the CLI is started. The
 * installed command is bin/y360-audit, a POSIX sh launcher that execs this file with V8's heap capped (no `env -S` in
 * the shebang: BusyBox has none). Started any other way (`./dist/src/cli.js`, `node dist/src/cli.js`) without a heap
 * size of the user's, the two V8 settings that decide how far garbage may pile up above what is live are set here, as
 * the process starts: they are read at every collection, so they take effect at once.
 */
import { setFlagsFromString } from 'node:v8'
import { capYoungGeneration, crashText, heapChosen, signalCode, stderrIsJournal, stopError } from './entry.js'
import { EXIT_CODES } from './errors.js'
import type { Io } from './io.js'

const argv = process.argv.slice(2)
const crash = (err: unknown): void => {
  process.stderr.write(crashText(err, argv, process.env))
  process.exit(EXIT_CODES.INTERNAL)
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

/** Runs the command, its Io filled from `process`; `heapFactors`: V8's growth factors were set here. */
async function runHere(heapFactors: boolean): Promise<void> {
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
    heapFactors,
  }
  const { main } = await import('./main.js')
  process.exitCode = await main(argv, io)
}

process.on('uncaughtException', crash)
// Unless the user chose the heap's size: V8 lets the old generation grow to several times what is live before
// collecting, and the young generation to 32-64 MiB (entry.ts, YOUNG_CAP). Growing the old generation by 20% at a time (V8 reads the
// factor at every collection) and the young one to 16 MiB hold the peak near what is live (bench/RESULTS.md).
const ours = !heapChosen(process.execArgv, process.env)
if (ours) {
  setFlagsFromString('--heap-growing-percent=20')
  capYoungGeneration()
}
runHere(ours).catch(crash)
