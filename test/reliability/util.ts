/** Helpers for the reliability tests: a CLI child that can be signalled mid-run, stderr line waits, archive prefix checks. */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { CLI, type CliResult } from '../helpers.js'

// The archive oracle and the PRNG live in test/helpers.ts (one of each for every test); re-exported for these files.
export { prefixProblems, prng } from '../helpers.js'

export interface LiveCli {
  child: ChildProcess
  done: Promise<CliResult>
  /** Resolves with the first stderr line matching `re` (rejects if the child ends first). */
  waitLine(re: RegExp): Promise<string>
}

/** Starts the real CLI without waiting for it. */
export function startCli(args: string[], opts: { env: Record<string, string>; cwd: string; uid?: number; gid?: number }): LiveCli {
  // As another user, drop NODE_OPTIONS: the test runner's process-info hook would try to write into .tap/ as that user.
  const [cmd, argv] = opts.uid === undefined ? [process.execPath, [CLI, ...args]] : ['env', ['-u', 'NODE_OPTIONS', process.execPath, CLI, ...args]]
  const child = spawn(cmd, argv, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'], uid: opts.uid, gid: opts.gid })
  let stdout = ''
  let stderr = ''
  let partial = ''
  const waiters: { re: RegExp; resolve: (l: string) => void; reject: (e: Error) => void }[] = []
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d))
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr += d
    const lines = (partial + d).split('\n')
    partial = lines.pop() ?? ''
    for (const line of lines) {
      for (let i = waiters.length - 1; i >= 0; i--) {
        if (waiters[i].re.test(line)) {
          waiters[i].resolve(line)
          waiters.splice(i, 1)
        }
      }
    }
  })
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code, signal) => {
      for (const w of waiters.splice(0)) w.reject(new Error(`the CLI ended (code ${code}, signal ${signal}) before a line matching ${w.re}; stderr:\n${stderr}`))
      resolve({ code, signal, stdout, stderr })
    })
  })
  return {
    child,
    done,
    waitLine: (re) => new Promise((resolve, reject) => waiters.push({ re, resolve, reject })),
  }
}

/** Every byte of every file named, concatenated (for grepping outputs for the token). */
export function slurp(paths: string[]): string {
  return paths.map((p) => readFileSync(p, 'utf8')).join('\n')
}

/** A test message that carries the child's stderr only when the exit code is not the expected one. */
export function exits(r: { code: number | null; stderr: string }, want: number, what: string): string {
  return r.code === want ? what : `${what}; stderr:\n${r.stderr.slice(-4000)}`
}
