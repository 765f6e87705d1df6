/** The commands: fetch (the default), verify, demo, emulator. `main` runs one in this process with the given Io. */
import { readFileSync } from 'node:fs'
import type { Io } from './io.js'

const COMMANDS = new Set(['fetch', 'demo', 'emulator', 'verify'])

/** The package's version (package.json beside dist/). */
export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  return pkg.version
}

/** Runs the command named by `argv[0]` (fetch when none is); returns the exit code. Commands load lazily. */
export async function main(argv: string[], io: Io): Promise<number> {
  const cmd = argv[0] !== undefined && COMMANDS.has(argv[0]) ? argv[0] : 'fetch'
  const rest = argv[0] === cmd ? argv.slice(1) : argv
  if (cmd === 'emulator') return (await import('./emulator/cli.js')).emulatorMain(rest)
  if (cmd === 'demo') return (await import('./demo.js')).demoMain(rest, io)
  if (cmd === 'verify') return (await import('./verify.js')).verifyMain(rest, io)
  return (await import('./fetch.js')).fetchCommand(rest, io, version())
}
