// `y360-audit emulator …`: start the emulator from flags, print one ready line, run until SIGINT/SIGTERM.
import { parseArgs } from 'node:util'
import { SOURCES, type SourceName } from './catalog.js'
import { startEmulator, type EmulatorOptions } from './index.js'
import { parseMsOrIsoToUs } from './time.js'

const HELP = `Usage: y360-audit emulator [options]

Fake Yandex 360 audit-log API (mail, disk, unified events) on plain HTTP.
Prints one JSON line {"url","org","token"} on stdout when ready; runs until SIGINT/SIGTERM.

  --port N              listen port (default 0 = any free port)
  --host H              bind address (default 127.0.0.1)
  --token T             accepted OAuth token (default test-token)
  --org N               organisation id (default 123)
  --mail N --disk N --events N   generated records per source (default 0)
  --days N              span of generated data (default 7)
  --end ISO|ms          end of generated data (default now)
  --seed N              data seed (default 1)
  --live-rate R         live arrivals per source, e.g. 5/s, 300/m (default off)
  --late-fraction F     share of live records stamped in the past (default 0)
  --late-max S          how far in the past, seconds (default 60)
  --faults JSON         initial faults, e.g. '{"error5xx":0.05,"latencyMs":20}'
  --switches JSON       initial switches, e.g. '{"pageDepthCap":10}'
  --dataset-mail F --dataset-disk F --dataset-events F   NDJSON file to serve as-is
  --help                this text
`

function num(name: string, v: string | undefined, fallback: number, problems: string[]): number {
  if (v === undefined) return fallback
  const n = Number(v)
  if (v.trim() === '' || !Number.isFinite(n) || n < 0) { problems.push(`--${name} must be a non-negative number, got "${v}"`); return fallback }
  return n
}

function rate(v: string, problems: string[]): number {
  const m = /^(\d+(?:\.\d+)?)(?:\/(s|m|h))?$/.exec(v)
  if (!m) { problems.push(`--live-rate must look like 5/s or 300/m, got "${v}"`); return 0 }
  return Number(m[1]) / ({ s: 1, m: 60, h: 3600 }[m[2] ?? 's'] as number)
}

function json(name: string, v: string | undefined, problems: string[]): Record<string, unknown> | undefined {
  if (v === undefined) return undefined
  try { return JSON.parse(v) as Record<string, unknown> } catch { problems.push(`--${name} is not valid JSON`); return undefined }
}

/** Parses argv into EmulatorOptions; returns the problems instead when there are any, or 'help'. */
export function parseEmulatorArgs(argv: string[]): EmulatorOptions | string[] | 'help' {
  let values: Record<string, string | boolean | undefined>
  try {
    values = parseArgs({
      args: argv, strict: true, allowPositionals: false,
      options: {
        port: { type: 'string' }, host: { type: 'string' }, token: { type: 'string' }, org: { type: 'string' },
        mail: { type: 'string' }, disk: { type: 'string' }, events: { type: 'string' }, days: { type: 'string' },
        end: { type: 'string' }, seed: { type: 'string' }, 'live-rate': { type: 'string' }, 'late-fraction': { type: 'string' },
        'late-max': { type: 'string' }, faults: { type: 'string' }, switches: { type: 'string' },
        'dataset-mail': { type: 'string' }, 'dataset-disk': { type: 'string' }, 'dataset-events': { type: 'string' },
        help: { type: 'boolean' },
      },
    }).values
  } catch (err) {
    return [err instanceof Error ? err.message : String(err)]
  }
  if (values.help) return 'help'
  const p: string[] = []
  const s = (k: string): string | undefined => values[k] as string | undefined
  const counts: Partial<Record<SourceName, number>> = {}
  const datasets: Partial<Record<SourceName, string>> = {}
  for (const src of SOURCES) {
    counts[src] = num(src, s(src), 0, p)
    if (s(`dataset-${src}`)) datasets[src] = s(`dataset-${src}`)
  }
  let end: number | undefined
  if (s('end') !== undefined) {
    const us = parseMsOrIsoToUs(s('end')!)
    if (us === undefined) p.push(`--end must be RFC 3339 or epoch ms, got "${s('end')}"`)
    else end = us / 1000
  }
  const opts: EmulatorOptions = {
    port: num('port', s('port'), 0, p), host: s('host') ?? '127.0.0.1', token: s('token') ?? 'test-token',
    org: num('org', s('org'), 123, p), counts, days: num('days', s('days'), 7, p), seed: num('seed', s('seed'), 1, p), end, datasets,
    faults: json('faults', s('faults'), p), switches: json('switches', s('switches'), p),
  }
  if (s('live-rate') !== undefined) {
    opts.live = { ratePerSec: rate(s('live-rate')!, p), lateFraction: num('late-fraction', s('late-fraction'), 0, p), lateMaxSeconds: num('late-max', s('late-max'), 60, p) }
  }
  return p.length ? p : opts
}

/** Runs the emulator CLI; resolves with the exit code (0 after SIGINT/SIGTERM, 1 on bad flags or start failure). */
export async function emulatorMain(argv: string[]): Promise<number> {
  const parsed = parseEmulatorArgs(argv)
  if (parsed === 'help') { process.stdout.write(HELP); return 0 }
  if (Array.isArray(parsed)) {
    for (const m of parsed) process.stderr.write(`y360-audit emulator: ${m}\n`)
    process.stderr.write('Try --help.\n')
    return 1
  }
  let emu
  try {
    emu = await startEmulator(parsed)
  } catch (err) {
    process.stderr.write(`y360-audit emulator: cannot start: ${err instanceof Error ? err.message : String(err)}\n`)
    return 1
  }
  const running = emu
  console.log(JSON.stringify({ url: running.url, org: running.org, token: running.token }))
  await new Promise<void>((resolve) => {
    const stop = (): void => { process.off('SIGINT', stop); process.off('SIGTERM', stop); resolve() }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
  })
  await running.close()
  return 0
}
