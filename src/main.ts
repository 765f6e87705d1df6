/**
 * The commands: fetch (the default), verify, reconcile, demo, emulator, help. `main` finds the command wherever it stands among
 * the options, answers -h/--help, -V/--version and `help [command]` itself, and runs the command in this process with
 * the given Io. A reader that leaves stdout (`verify | head`) ends any command quietly (exit 0, no trace).
 */
import { packageVersion } from './package.js'
import type { Io } from './io.js'
import { OPTIONS } from './config/options.js'
import { EXIT_CODES } from './errors.js'

const COMMANDS = ['fetch', 'verify', 'reconcile', 'demo', 'emulator'] as const
type Command = (typeof COMMANDS)[number]
const isCommand = (s: string): s is Command => (COMMANDS as readonly string[]).includes(s)

/** The package's version. */
export function version(): string {
  return packageVersion()
}

/** Flags of the fetch/verify options that take a value: the word after them is that value, never the command. */
const VALUED = new Set(OPTIONS.filter((o) => o.kind === 'string').map((o) => `--${o.flag}`))

/** What argv asks for: the command (first bare command name not taken as a value), the rest, and help/version asked. */
export function splitCommand(argv: readonly string[]): { cmd: Command | 'help'; rest: string[]; topic?: string; help: boolean; version: boolean } {
  let at = -1
  let help = false
  let ver = false
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--') break
    if (a === '-h' || a === '--help') help = true
    else if (a === '-V' || a === '--version') ver = true
    else if (VALUED.has(a)) i++
    else if (at < 0 && (isCommand(a) || a === 'help')) at = i
  }
  const named = at < 0 ? 'fetch' : (argv[at] as Command | 'help')
  const rest = at < 0 ? [...argv] : [...argv.slice(0, at), ...argv.slice(at + 1)]
  if (named === 'help') return { cmd: 'help', rest: [], topic: rest.find((a) => !a.startsWith('-')), help: true, version: false }
  return { cmd: named, rest, help, version: ver }
}

/** The help text of `cmd` (the emulator prints its own). */
async function helpOf(cmd: Exclude<Command, 'emulator'>, v: string): Promise<string> {
  if (cmd === 'verify') return (await import('./verify.js')).verifyHelp(v)
  if (cmd === 'demo') return (await import('./demo.js')).demoHelp(v)
  if (cmd === 'reconcile') return (await import('./reconcile.js')).reconcileHelp(v)
  return (await import('./config/options.js')).helpText(v)
}

/** Writes `text` and waits until stdout took it (or its reader left). */
function say(io: Io, text: string): Promise<void> {
  return new Promise((resolve) => {
    io.stdout.write(text, () => resolve())
  })
}

/** Runs the command argv names (fetch when none is); returns the exit code. Commands load lazily. */
export async function main(argv: string[], io: Io): Promise<number> {
  // A reader that leaves (| head) makes stdout emit EPIPE: the commands check `readerGone` and end with exit 0.
  let gone = false
  const onError = (err: NodeJS.ErrnoException): void => {
    if (err.code !== 'EPIPE') throw err
    gone = true
  }
  // It stays attached: a write's EPIPE is emitted after the write's callback, so it may come after the command returned.
  io.stdout.on('error', onError)
  const cio: Io = { ...io, readerGone: () => gone || (io.readerGone?.() ?? false) }
  const { cmd, rest, topic, help, version: ver } = splitCommand(argv)
  if (cmd === 'help') {
    if (topic !== undefined && !isCommand(topic)) {
      io.stderr.write(`y360-audit: no command "${topic}"; commands: ${COMMANDS.join(', ')} (y360-audit help <command>)\n`)
      return EXIT_CODES.CONFIG_INVALID
    }
    if (topic === 'emulator') return (await import('./emulator/cli.js')).emulatorMain(['--help'])
    await say(cio, (await helpOf(topic ?? 'fetch', version())) + '\n')
    return EXIT_CODES.OK
  }
  if (cmd === 'emulator') return (await import('./emulator/cli.js')).emulatorMain(help ? ['--help'] : rest)
  if (help || ver) {
    await say(cio, (help ? await helpOf(cmd, version()) : version()) + '\n')
    return EXIT_CODES.OK
  }
  if (cmd === 'demo') return (await import('./demo.js')).demoMain(rest, cio)
  if (cmd === 'verify') return (await import('./verify.js')).verifyMain(rest, cio)
  if (cmd === 'reconcile') return (await import('./reconcile.js')).reconcileMain(rest, cio)
  return (await import('./fetch.js')).fetchCommand(rest, cio, version())
}
