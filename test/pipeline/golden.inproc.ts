// Refactors keep the bytes: the day files, the stdout stream, the summary JSON and the metrics textfile of an append
// run, a backfill and a stdout run on seeded emulator data (fixed clock) must equal the outputs recorded in
// test/fixtures/golden/ before the architecture change. GOLDEN_UPDATE=1 rewrites the fixtures (only on purpose).
import t, { type Test } from 'tap'
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { PassThrough } from 'node:stream'
import { loadConfig } from '../../src/config.js'
import { createLogger } from '../../src/log.js'
import { run, type RunSummary } from '../../src/pipeline/run.js'
import { metricsText, summaryDocument } from '../../src/summary.js'
import { emulator, ROOT } from '../helpers.js'

const GOLDEN = join(ROOT, 'test/fixtures/golden')
const T0 = Date.UTC(2026, 10, 20, 12, 0, 0)
const UPDATE = process.env.GOLDEN_UPDATE === '1'

/** Every regular file under `dir` (relative path → bytes as latin1 text, so any byte compares exactly). */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = join(d, e.name)
      if (e.isDirectory()) walk(p)
      else if (e.isFile() && !e.name.startsWith('.y360-audit.lock')) out[relative(dir, p)] = readFileSync(p, 'latin1')
    }
  }
  walk(dir)
  return out
}

/** The outputs of one scenario as files: the archive tree, stdout, the summary document and the metrics of each run. */
interface Outputs {
  files: Record<string, string>
}

/** `dir` is the test's own directory: replaced by `<dir>` so the fixtures do not depend on where the clone lives. */
function record(out: Outputs, dir: string, name: string, s: RunSummary, nowMs: number, stdout?: string): void {
  const local = (text: string): string => text.split(dir).join('<dir>')
  out.files[`${name}.summary.json`] = local(JSON.stringify(summaryDocument(s, nowMs, nowMs, 1), null, 2) + '\n')
  out.files[`${name}.prom`] = local(metricsText(s, nowMs, ''))
  if (stdout !== undefined) out.files[`${name}.stdout`] = stdout
}

interface Counted {
  source: string
  fetched: number
  written: number
  duplicates: number
  rejected: number
  refetched?: number
  neighbours?: number
  filtered?: number
}

/** The counters of every summary reconcile: each record fetched was written, or dropped or set aside for a reason. */
function reconciles(t: Test, scenario: string, out: Outputs): void {
  for (const [rel, text] of Object.entries(out.files)) {
    if (!rel.endsWith('.summary.json')) continue
    for (const c of (JSON.parse(text) as { sources: Counted[] }).sources) {
      const accounted = c.written + c.duplicates + c.rejected + (c.refetched ?? 0) + (c.neighbours ?? 0) + (c.filtered ?? 0)
      t.equal(c.fetched, accounted, `${scenario}/${rel} ${c.source}: fetched = written + duplicates + rejected + refetched + neighbours + filtered`)
    }
  }
}

function compare(t: Test, scenario: string, out: Outputs): void {
  reconciles(t, scenario, out)
  const dir = join(GOLDEN, scenario)
  if (UPDATE) {
    rmSync(dir, { recursive: true, force: true })
    for (const [rel, text] of Object.entries(out.files)) {
      mkdirSync(join(dir, rel, '..'), { recursive: true })
      writeFileSync(join(dir, rel), text, 'latin1')
    }
  }
  const want = tree(dir)
  t.same(Object.keys(out.files).sort(), Object.keys(want).sort(), `${scenario}: the same files`)
  for (const [rel, text] of Object.entries(want)) {
    // Not t.equal on the whole text: a failure would print megabytes. The first differing line says where.
    const got = out.files[rel] ?? ''
    if (got === text) t.pass(`${scenario}/${rel}: byte for byte (${text.length} bytes)`)
    else {
      const a = got.split('\n')
      const b = text.split('\n')
      let i = 0
      while (i < Math.max(a.length, b.length) && a[i] === b[i]) i++
      t.fail(`${scenario}/${rel} differs at line ${i + 1}`, { found: a[i]?.slice(0, 300), wanted: b[i]?.slice(0, 300) })
    }
  }
}

async function setup(t: Test): Promise<{ emu: Awaited<ReturnType<typeof emulator>>; clock: { now: number }; dir: string; log: Awaited<ReturnType<typeof createLogger>>['log'] }> {
  const clock = { now: T0 }
  const emu = await emulator(t, { counts: { mail: 800, disk: 300, events: 500 }, days: 3, seed: 77, end: T0 - 600_000, clock: () => clock.now })
  const { log, close } = await createLogger({ level: 'silent', pretty: false, secrets: [] })
  t.teardown(close)
  return { emu, clock, dir: t.testdir(), log }
}

function argv(emu: { url: string; token: string; org: number }, dir: string, extra: string[]): string[] {
  return ['--token', emu.token, '--org', String(emu.org), '--api-url', emu.url, '--cloud-api-url', emu.url, '--retry-delay', '5ms', '--no-log-file', '--max-pages', '3', '--concurrency', '4', ...extra]
}

async function runAt(a: string[], cwd: string, nowMs: number, log: Awaited<ReturnType<typeof createLogger>>['log'], stdout?: NodeJS.WritableStream): Promise<RunSummary> {
  const cfg = loadConfig({ argv: a, env: {}, cwd, now: () => nowMs })
  return run({ cfg, log, now: () => nowMs, signal: new AbortController().signal, stdout })
}

const dirs = (dir: string): string[] => ['--mail-dir', join(dir, 'archive/mail'), '--disk-dir', join(dir, 'archive/disk'), '--events-dir', join(dir, 'archive/events')]

t.test('append: first run, then an incremental run with late arrivals', async (t) => {
  const { emu, clock, dir, log } = await setup(t)
  const out: Outputs = { files: {} }
  record(out, dir, 'run1', await runAt(argv(emu, dir, [...dirs(dir), '--lookback', '4d']), dir, clock.now, log), clock.now)
  clock.now += 60_000
  emu.inject('mail', 20)
  emu.inject('mail', 5, { lateSeconds: 50 })
  emu.inject('events', 10, { lateSeconds: 30 })
  emu.inject('disk', 7)
  record(out, dir, 'run2', await runAt(argv(emu, dir, [...dirs(dir), '--lookback', '4d']), dir, clock.now, log), clock.now)
  for (const [rel, text] of Object.entries(tree(join(dir, 'archive')))) out.files[`archive/${rel}`] = text
  compare(t, 'append', out)
})

t.test('backfill: a damaged middle day is merged back, Python-spaced lines kept', async (t) => {
  const { emu, clock, dir, log } = await setup(t)
  const out: Outputs = { files: {} }
  const a = argv(emu, dir, [...dirs(dir), '--lookback', '4d'])
  await runAt(a, dir, clock.now, log)
  const mailDir = join(dir, 'archive/mail')
  const names = readdirSync(mailDir).filter((n) => n.startsWith('mail_audit_')).sort()
  const middle = join(mailDir, names[1])
  const lines = readFileSync(middle, 'utf8').split('\n').slice(0, -1)
  writeFileSync(middle, lines.filter((_, i) => i % 4 !== 1).map((l, i) => (i % 5 === 0 ? l.replace(/","/g, '", "').replace(/":"/g, '": "') : l) + '\n').join(''))
  const day = names[1].slice('mail_audit_'.length, -'.json'.length)
  clock.now += 60_000
  record(out, dir, 'backfill', await runAt(argv(emu, dir, [...dirs(dir), '--since', `${day}T00:00:00Z`, '--until', `${day}T23:00:00Z`]), dir, clock.now, log), clock.now)
  for (const [rel, text] of Object.entries(tree(join(dir, 'archive')))) out.files[`archive/${rel}`] = text
  compare(t, 'backfill', out)
})

t.test('stdout: tagged records with a state file, then an incremental stdout run', async (t) => {
  const { emu, clock, dir, log } = await setup(t)
  const out: Outputs = { files: {} }
  const a = argv(emu, dir, ['--stdout', '--sources', 'mail,events', '--tag-source', '--state-file', join(dir, 'state/cursor.json'), '--lookback', '2d'])
  mkdirSync(join(dir, 'state'))
  const capture = async (): Promise<{ s: RunSummary; text: string }> => {
    const sink = new PassThrough()
    const chunks: Buffer[] = []
    sink.on('data', (c: Buffer) => chunks.push(c))
    const s = await runAt(a, dir, clock.now, log, sink)
    return { s, text: Buffer.concat(chunks).toString('latin1') }
  }
  const first = await capture()
  record(out, dir, 'stdout1', first.s, clock.now, first.text)
  clock.now += 60_000
  emu.inject('mail', 12, { lateSeconds: 40 })
  emu.inject('events', 9)
  const second = await capture()
  record(out, dir, 'stdout2', second.s, clock.now, second.text)
  out.files['state/cursor.json'] = readFileSync(join(dir, 'state/cursor.json'), 'latin1')
  compare(t, 'stdout', out)
})
