/**
 * The thread a command runs in when cli.ts starts one (its heap bounded by the thread's resource limits). Its Io is
 * the process's: the environment, the working directory, fd 1 and fd 2 written directly (fdstream.ts), what the main
 * thread saw of the terminal, and the stop signals the main thread forwards. Its exit code is the process's.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { EXIT_CODES } from './errors.js'
import { crashText, signalCode, stopError } from './entry.js'
import { FdWriter, writeFully } from './fdstream.js'
import type { Io } from './io.js'
import { main } from './main.js'

/** What the main thread hands over: the arguments and what it saw of stderr. */
export interface WorkerStart {
  argv: string[]
  tty: boolean
  columns: number | undefined
  journal: boolean
}

/** A message from the main thread: a stop signal it received (the first one; a second one ends the process there). */
export interface WorkerSignal {
  signal: NodeJS.Signals
}

const start = workerData as WorkerStart
const crash = (err: unknown): void => {
  writeFully(2, Buffer.from(crashText(err, start.argv, process.env)))
  process.exit(EXIT_CODES.INTERNAL)
}
process.on('uncaughtException', crash)

const ac = new AbortController()
let stopCode: number | undefined
const port = parentPort
port?.on('message', (m: WorkerSignal) => {
  if (stopCode !== undefined) return
  stopCode = signalCode(m.signal)
  ac.abort(stopError(m.signal))
})
port?.unref() // listening for a stop does not keep the thread alive once the command is done

const io: Io = {
  env: process.env,
  cwd: process.cwd(),
  stdout: new FdWriter(1),
  stderr: new FdWriter(2),
  tty: start.tty,
  journal: start.journal,
  columns: start.columns,
  now: Date.now,
  signal: ac.signal,
  interrupted: () => stopCode,
  thread: 'worker',
}
main(start.argv, io).then((code) => {
  process.exitCode = code
}, crash)
