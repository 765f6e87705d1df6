/**
 * demo: the whole job against the bundled emulator, no credentials needed. Starts the emulator in-process with a week
 * of mail, disk and unified-log data, runs a full fetch into ./y360-demo/, lets live records arrive (some late),
 * runs again, then verifies the archive and prints what was written.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { loadConfig, type Config } from './config.js'
import { startEmulator, type Emulator } from './emulator/index.js'
import type { Io } from './io.js'
import { createLogger } from './log.js'
import { packageVersion } from './package.js'
import { run, type RunSummary } from './pipeline/run.js'
import { ENDPOINTS } from './sources/index.js'
import { listArchive } from './archive/layout.js'
import { verifyArchive } from './verify.js'

const MARKER = '.y360-demo'

function table(title: string, s: RunSummary): string {
  const rows = s.sources.map((r) => `  ${r.source.padEnd(7)} ${String(r.fetched).padStart(8)} ${String(r.written).padStart(8)} ${String(r.duplicates).padStart(10)} ${String(r.late).padStart(5)} ${String(r.pages).padStart(6)}  ${(r.durationMs / 1000).toFixed(2)}s${r.ok ? '' : `  FAILED: ${r.error}`}`)
  return [`${title}`, '  source   fetched  written duplicates  late  pages  time', ...rows].join('\n')
}

/** Makes `dir` an empty demo directory; false (with a message) when it holds something that is not a demo's. */
function prepareDemoDir(dir: string, io: Io): boolean {
  if (existsSync(dir) && readdirSync(dir).length > 0 && !existsSync(join(dir, MARKER))) {
    io.stderr.write(`y360-audit demo: ${dir} exists and is not a demo directory; pass --dir with a new or empty directory\n`)
    return false
  }
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true, mode: 0o750 })
  writeFileSync(join(dir, MARKER), 'created by y360-audit demo; safe to delete\n')
  return true
}

/** Prints each source's archive against the emulator's truth; returns the number of problems found. */
async function showArchive(cfg: Config, emu: Emulator, out: (s: string) => void): Promise<number> {
  let problems = 0
  for (const src of cfg.sources) {
    const files = await listArchive({ dir: src.dir, base: src.base, ext: cfg.ext })
    const lines = files.map((f) => readFileSync(f.path, 'utf8').split('\n').length - 1)
    const report = await verifyArchive(ENDPOINTS[src.name], files, cfg.timezone, cfg.overlapMs * 1000)
    const truth = emu.truth(src.name).length
    problems += report.problemCount + (report.records === truth ? 0 : 1)
    out(`  ${src.name}/: ${files.length} day files ${files[0]?.day ?? ''}..${files[files.length - 1]?.day ?? ''}, ${lines.reduce((a, b) => a + b, 0)} lines; the API holds ${truth}; verify: ${report.problemCount === 0 ? 'ascending, each record in its UTC day file, no duplicates, no torn line' : `${report.problemCount} problems`}`)
    if (files.length > 0) out(`      e.g. ${files[files.length - 1].path}`)
  }
  return problems
}

/** `y360-audit help demo`. */
export function demoHelp(version: string): string {
  return [
    `y360-audit${version === '' ? '' : ` ${version}`} demo: the whole job against the bundled emulator, no credentials needed`,
    '',
    'Usage:',
    '  y360-audit demo [--dir ./y360-demo]',
    '',
    'Fetches a week of emulated mail, disk and unified-log records into --dir, lets new ones arrive (some late), runs',
    'again (incremental), verifies the archive and prints what was written. --dir must be new, empty or a demo\'s.',
    '',
    '  --dir <d>                directory of the demo archive [default ./y360-demo]',
    '  -h, --help               show this help',
  ].join('\n')
}

/** `y360-audit demo [--dir ./y360-demo]`: returns the exit code. */
export async function demoMain(argv: string[], io: Io): Promise<number> {
  let values: { dir?: string | boolean; help?: string | boolean }
  try {
    values = parseArgs({ args: argv, options: { dir: { type: 'string', default: 'y360-demo' }, help: { type: 'boolean', short: 'h' } }, strict: true }).values
  } catch (err) {
    io.stderr.write(`y360-audit demo: ${(err as Error).message}; see y360-audit help demo\n`)
    return 1
  }
  if (values.help === true) {
    io.stdout.write(demoHelp('') + '\n')
    return 0
  }
  const dir = resolve(io.cwd, values.dir as string)
  if (!prepareDemoDir(dir, io)) return 1
  let readerGone = false // `demo | head`: stop printing, keep going, exit normally
  io.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err
    readerGone = true
  })
  const out = (s: string): void => {
    if (!readerGone) io.stdout.write(s + '\n')
  }
  const emu = await startEmulator({ token: 'demo-token', org: 4815162, counts: { mail: 20_000, disk: 5_000, events: 10_000 }, days: 7, seed: 42 })
  const { log, close } = await createLogger({ level: 'warn', pretty: io.tty, secrets: [emu.token] })
  try {
    out(`Emulator of the Yandex 360 audit-log API at ${emu.url} (org ${emu.org}): 20,000 mail, 5,000 disk and 10,000 unified-log records over 7 days.`)
    const argvFor = [
      '--token', emu.token, '--org', String(emu.org), '--api-url', emu.url, '--cloud-api-url', emu.url,
      '--mail-dir', join(dir, 'mail'), '--disk-dir', join(dir, 'disk'), '--events-dir', join(dir, 'events'),
      '--lookback', '8d', '--no-log-file',
    ]
    const runOnce = (): Promise<RunSummary> => run({ cfg: loadConfig({ argv: argvFor, env: {}, cwd: dir, now: io.now }), log, now: io.now, signal: io.signal, tool: `y360-audit ${packageVersion()}` })
    const first = await runOnce()
    out('\n' + table('Run 1: first run, empty archive (fetches the whole lookback):', first))
    const mail = emu.inject('mail', 40).length + emu.inject('mail', 5, { lateSeconds: 60 }).length
    const disk = emu.inject('disk', 15).length
    const events = emu.inject('events', 60).length + emu.inject('events', 5, { lateSeconds: 60 }).length
    out(`\nMeanwhile ${mail} mail, ${disk} disk and ${events} unified-log records arrive (10 of them stamped up to a minute late).`)
    const second = await runOnce()
    out('\n' + table('Run 2: incremental (asks again from the newest archived record minus the 2-minute overlap, drops what it has):', second))
    out(`\nThe archive in ${dir}:`)
    const problems = await showArchive(loadConfig({ argv: argvFor, env: {}, cwd: dir, now: io.now }), emu, out)
    out(problems === 0 ? '\nEverything the API holds is in the archive exactly once. Try: y360-audit verify --mail-dir ' + join(dir, 'mail') : '\nThe archive does not match the API: this is a bug, please report it.')
    return problems === 0 && first.ok && second.ok ? 0 : 1
  } finally {
    await close()
    await emu.close()
  }
}
