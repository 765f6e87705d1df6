// npm run bench [-- --runs 3] [-- --quick]: throughput, peak RSS and resume cost of the real CLI against the emulator.
// Every figure is the median of --runs runs (default 3). The emulator runs as a child process; so does each CLI run.
// Results are printed as a table and written to bench/RESULTS.md.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { cpus, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { OPTIONS } from '../src/options.js'
import { measureEmulatorCeiling } from './emulator.js'

const DIST = fileURLToPath(new URL('..', import.meta.url)) // dist/
const CLI = join(DIST, 'src/cli.js')
const EMU = join(DIST, 'src/emulator/bin.js')
const HOOK = join(DIST, 'bench/rss-hook.js')
const RESULTS = fileURLToPath(new URL('../../bench/RESULTS.md', import.meta.url))
const DEFAULT_CONCURRENCY = OPTIONS.find((o) => o.flag === 'concurrency')?.default ?? '?'

const { values: args } = parseArgs({ options: { runs: { type: 'string', default: '3' }, quick: { type: 'boolean', default: false }, full: { type: 'boolean', default: false } } })
const RUNS = Number(args.runs)
/** 1,000,000 records at 30 ms with one window at a time takes 5+ minutes a run: one run unless --full. */
const SLOW_RUNS = args.full ? RUNS : 1

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor((s.length - 1) / 2)]
}

interface Emu {
  url: string
  token: string
  org: number
  stop(): Promise<void>
  faults(f: object): Promise<void>
}

async function startEmu(records: number): Promise<Emu> {
  const child = spawn(process.execPath, [EMU, '--mail', String(records), '--days', '30', '--seed', '3', '--token', 'bench-token'], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.setEncoding('utf8')
  while (!out.includes('\n')) {
    const [chunk] = (await Promise.race([once(child.stdout, 'data'), once(child, 'exit').then(() => { throw new Error('emulator exited early') })])) as [string]
    out += chunk
  }
  const ready = JSON.parse(out.split('\n')[0]) as { url: string; org: number; token: string }
  return {
    ...ready,
    stop: async () => {
      const exited = once(child, 'exit')
      child.kill('SIGTERM')
      await exited
    },
    faults: async (f) => {
      const res = await fetch(`${ready.url}/__admin/faults`, { method: 'POST', body: JSON.stringify(f), headers: { 'content-type': 'application/json' } })
      if (!res.ok) throw new Error(`admin faults: ${res.status} ${await res.text()}`)
    },
  }
}

interface CliRun {
  ms: number
  rssMiB: number
  code: number | null
  stderr: string
}

/** The node flags of the CLI's shebang (how the installed `y360-audit` bin runs), so the benchmark runs it the same way. */
const BIN_FLAGS = (readFileSync(CLI, 'utf8').split('\n')[0].match(/^#!.*?node\s*(.*)$/)?.[1] ?? '').split(/\s+/).filter(Boolean)

async function runCli(cliArgs: string[], env: Record<string, string> = {}): Promise<CliRun> {
  const rssFile = join(tmpdir(), `y360-bench-rss-${process.pid}-${Math.random().toString(36).slice(2)}`)
  const t0 = performance.now()
  const child = spawn(process.execPath, [...BIN_FLAGS, '--import', HOOK, CLI, ...cliArgs], { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: process.env.PATH ?? '', TZ: 'UTC', BENCH_RSS_FILE: rssFile, ...env } })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  const [code] = (await once(child, 'exit')) as [number | null]
  const ms = performance.now() - t0
  const rssMiB = Number(readFileSync(rssFile, 'utf8')) / 1024
  rmSync(rssFile, { force: true })
  return { ms, rssMiB, code, stderr }
}

interface ThroughputRow {
  records: number
  latencyMs: number
  concurrency: string
  recordsPerSec: number
  rssMiB: number
  runs: number[]
}

async function throughput(emu: Emu, records: number, latencyMs: number, concurrency: string, runs: number): Promise<ThroughputRow> {
  await emu.faults({ latencyMs })
  const rates: number[] = []
  const rss: number[] = []
  for (let i = 0; i < runs; i++) {
    const dir = mkdtempSync(join(tmpdir(), 'y360-bench-'))
    try {
      const r = await runCli(['--mail-dir', dir, '--lookback', '31d', '--no-log-file', '--quiet', '--concurrency', concurrency, '--api-url', emu.url, '--cloud-api-url', emu.url, '--token', emu.token, '--org', String(emu.org)])
      if (r.code !== 0) throw new Error(`CLI exited ${r.code}: ${r.stderr}`)
      rates.push(Math.round(records / (r.ms / 1000)))
      rss.push(r.rssMiB)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
    process.stderr.write(`  ${records} records, ${latencyMs} ms, concurrency ${concurrency}: run ${i + 1} ${rates[i]} records/s, peak RSS ${rss[i].toFixed(0)} MiB\n`)
  }
  return { records, latencyMs, concurrency, recordsPerSec: median(rates), rssMiB: median(rss), runs: rates }
}

/** 90 day files (89 small, the newest 1 GB) ending today, newest record a minute ago. */
async function buildArchive(dir: string, newestBytes: number): Promise<void> {
  mkdirSync(dir, { recursive: true })
  const now = Date.now()
  const today = new Date(now).toISOString().slice(0, 10)
  const line = (ms: number, i: number): string =>
    JSON.stringify({ eventType: 'message_receive', date: new Date(ms).toISOString(), orgId: 123, userUid: '1130000012345678', userLogin: 'olga.petrova@example.org', userName: 'Петрова Ольга', requestId: '', uniqId: String(1e17 + i), source: 'imap', mid: String(1e17 + i), folderName: 'Входящие', folderType: 'inbox', labels: [], msgId: `<m${i}@mx.example.net>`, subject: 'Отчёт за апрель, квартальные итоги и планы на следующий период', from: 'boss@example.org', to: 'olga.petrova@example.org', cc: '', bcc: '', clientIp: '203.0.113.77' }) + '\n'
  for (let d = 89; d >= 1; d--) {
    const dayStart = Date.parse(today) - d * 86_400_000
    let text = ''
    for (let i = 0; i < 1000; i++) text += line(dayStart + i * 86_000, i)
    writeFileSync(join(dir, `mail_audit_${new Date(dayStart).toISOString().slice(0, 10)}.json`), text)
  }
  const start = Date.parse(today)
  const end = now - 60_000
  const sample = line(start, 0).length
  const n = Math.ceil(newestBytes / sample)
  const out = createWriteStream(join(dir, `mail_audit_${today}.json`))
  let buf = ''
  for (let i = 0; i < n; i++) {
    buf += line(start + Math.floor(((end - start) * i) / (n - 1)), i)
    if (buf.length > 4_000_000) {
      if (!out.write(buf)) await once(out, 'drain')
      buf = ''
    }
  }
  out.end(buf)
  await once(out, 'finish')
}

interface ResumeRow {
  firstRequestMs: number
  totalMs: number
}

/** Time to the first API request and total time of a no-op run over a large archive (a trivial API answering empty pages). */
async function resume(dir: string): Promise<ResumeRow> {
  let first = 0
  const server = createServer((req, res) => {
    if (first === 0) first = performance.now()
    res.setHeader('content-type', 'application/json')
    res.setHeader('x-request-id', 'bench')
    res.end('{"events":[],"nextPageToken":""}')
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const firsts: number[] = []
  const totals: number[] = []
  try {
    for (let i = 0; i < RUNS; i++) {
      first = 0
      const t0 = performance.now()
      const r = await runCli(['--mail-dir', dir, '--no-log-file', '--quiet', '--api-url', url, '--token', 'bench-token', '--org', '123'])
      if (r.code !== 0) throw new Error(`CLI exited ${r.code}: ${r.stderr}`)
      firsts.push(first - t0)
      totals.push(r.ms)
      process.stderr.write(`  resume run ${i + 1}: first request after ${(first - t0).toFixed(0)} ms, total ${r.ms.toFixed(0)} ms\n`)
    }
  } finally {
    server.close()
  }
  return { firstRequestMs: median(firsts), totalMs: median(totals) }
}

async function main(): Promise<void> {
  const counts = args.quick ? [200_000] : [200_000, 1_000_000]
  const rows: ThroughputRow[] = []
  for (const records of counts) {
    process.stderr.write(`starting the emulator with ${records} mail records\n`)
    const emu = await startEmu(records)
    try {
      for (const latencyMs of [0, 30]) {
        for (const conc of ['1', DEFAULT_CONCURRENCY]) {
          if (args.quick && latencyMs === 30 && conc === '1') continue
          rows.push(await throughput(emu, records, latencyMs, conc, records >= 1_000_000 && latencyMs > 0 && conc === '1' ? SLOW_RUNS : RUNS))
        }
      }
    } finally {
      await emu.stop()
    }
  }
  process.stderr.write('building a 90-day archive with a 1 GB newest file\n')
  const archive = mkdtempSync(join(tmpdir(), 'y360-bench-archive-'))
  let res: ResumeRow
  try {
    await buildArchive(archive, args.quick ? 100 * 1024 * 1024 : 1024 * 1024 * 1024)
    res = await resume(archive)
  } finally {
    rmSync(archive, { recursive: true, force: true })
  }
  const ceilings: number[] = []
  for (let i = 0; i < RUNS; i++) ceilings.push((await measureEmulatorCeiling({ records: 200_000 })).recordsPerSec)
  const ceiling = median(ceilings)

  const date = new Date().toISOString()
  const lines = [
    `# Benchmark results`,
    '',
    `${date}, \`npm run bench${args.quick ? ' -- --quick' : args.full ? ' -- --full' : ''}\` (median of ${RUNS} runs${SLOW_RUNS < RUNS ? '; the 1,000,000-record, 30 ms, concurrency 1 row is a single run' : ''}), ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}.`,
    'Emulator and CLI each run as a child process on the same machine; mail records over 30 days; page size 100.',
    '',
    '| records | page latency | concurrency | records/s | peak RSS | runs (records/s) |',
    '|---:|---:|---:|---:|---:|---|',
    ...rows.map((r) => `| ${r.records.toLocaleString('en')} | ${r.latencyMs} ms | ${r.concurrency}${r.concurrency === DEFAULT_CONCURRENCY ? ' (default)' : ''} | ${r.recordsPerSec.toLocaleString('en')} | ${r.rssMiB.toFixed(0)} MiB | ${r.runs.join(', ')} |`),
    '',
    `| resume over 90 day files, newest ${args.quick ? '100 MB' : '1 GB'} | median |`,
    '|---|---:|',
    `| start → first API request | ${res.firstRequestMs.toFixed(0)} ms |`,
    `| no-op incremental run, total | ${res.totalMs.toFixed(0)} ms |`,
    '',
    `Emulator ceiling (one sequential keep-alive client, 100-record pages, 0 ms): ${ceiling.toLocaleString('en')} records/s (runs: ${ceilings.join(', ')}).`,
    '',
  ]
  const text = lines.join('\n')
  process.stdout.write(text + '\n')
  writeFileSync(RESULTS, text)
}

await main()
