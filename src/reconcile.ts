/**
 * reconcile: asks the API for --since..--until again, compares it with the archive day by day by record identity,
 * merges what the archive lacks (not with --dry-run) under the archive's lock, reseals the days it changed, and reports
 * per day what the archive lacked and what it holds that the API no longer returns (beyond the API's retention: said
 * so). Exit 0 when nothing was missing, RECORDS_MISSING (10) when something was (repaired, or not with --dry-run).
 */
import { loadPlan, type Config, type OrgPlan, type Plan } from './config.js'
import { OPTION } from './config/options.js'
import { EXIT_CODES, exitCodeOf, worstExit, Y360Error } from './errors.js'
import type { Io } from './io.js'
import { commandLogger } from './fetch.js'
import type { createLogger, Logger } from './log.js'
import { ReconcileOutput, type SourceReconcile } from './pipeline/outputs/reconcile.js'
import { run, type RunSummary, type SourceSummary } from './pipeline/run.js'
import type { BeforeSeal } from './pipeline/seal.js'
import { packageVersion } from './package.js'
import { Limiters } from './sources/limiter.js'

/** The options reconcile reads besides the fetch job's connection and archive options. */
const OWN = [OPTION.since, OPTION.until, OPTION.dryRun, OPTION.json, OPTION.timezone, OPTION.overlapMs]

/** `y360-audit help reconcile`. */
export function reconcileHelp(version: string): string {
  const rows = OWN.map((o) => `  ${(o.kind === 'boolean' ? `--${o.flag}` : `--${o.flag} <v>`).padEnd(24)} ${o.help}`)
  return [
    `y360-audit ${version} reconcile: ask the API for a range again and repair what the archive lacks`,
    '',
    'Usage:',
    '  y360-audit reconcile --since X [--until Y] [--dry-run] [--json] [options]   (the fetch job\'s configuration)',
    '  y360-audit reconcile --config FILE --since X ...   (every organisation of the file, lines led by its name)',
    '',
    'Each day of the range is compared with its day file by record identity (canonical content: spacing and key',
    'order do not matter). Records the API returns that the file lacks are merged in (temp file + rename, ascending,',
    'existing lines kept byte for byte), a sealed day reopened and resealed; records the file holds that the API no longer',
    'returns are reported ("unconfirmed"; "beyond retention" when older than the API keeps records), never removed.',
    '',
    'Options (and every fetch option: directories, base names, --ext, --sources, filters, URLs, token, retries):',
    ...rows,
    '',
    'Exit codes: 0 nothing missing, 10 records were missing (merged in; with --dry-run only reported), 1 bad',
    'configuration, 3/4/5/6/75 as for fetch (API refused, API failing, archive not writable, locked, rate limited),',
    '7 the seal manifest is damaged, 8 nothing missing but the API broke an assumption (or a sealed day was changed',
    'outside the tool), 130/143 stopped by a signal.',
  ].join('\n')
}

/** The report of one source, as --json writes it. */
interface SourceReport extends SourceReconcile {
  ok: boolean
  code?: string
  error?: string
  from?: string
  to?: string
  missing: number
  repaired: number
  unconfirmed: number
  beyondRetention: number
}

function sourceReport(s: SourceSummary, r: SourceReconcile | undefined): SourceReport {
  const c = s.reconcile ?? { missing: 0, unconfirmed: 0, beyondRetention: 0 }
  const out: SourceReport = { source: s.source, ok: s.ok, from: s.from, to: s.to, ...c, repaired: s.written, days: r?.days ?? [], changed: r?.changed ?? [] }
  if (s.code !== undefined) out.code = s.code
  if (s.error !== undefined) out.error = s.error
  return out
}

/** The text report: one line per source, one per day where the two sides differ. */
function textReport(reports: SourceReport[], dryRun: boolean): string {
  const lines: string[] = []
  for (const r of reports) {
    const state = r.ok ? (r.missing === 0 ? 'nothing missing' : `${r.missing} missing, ${dryRun ? 'not repaired (--dry-run)' : `${r.repaired} merged in`}`) : `FAILED (${r.code})`
    lines.push(`${r.source}: ${r.from ?? '?'} .. ${r.to ?? '?'}: ${r.days.length} day(s) compared, ${state}; ${r.unconfirmed} unconfirmed, ${r.beyondRetention} beyond the API's retention`)
    for (const d of r.days) {
      if (d.missing === 0 && d.unconfirmed === 0 && d.beyondRetention === 0) continue
      const parts = [`${d.archived} archived`, `${d.api} from the API`, `${d.missing} missing`]
      if (d.unconfirmed > 0) parts.push(`${d.unconfirmed} archived but not returned by the API`)
      if (d.beyondRetention > 0) parts.push(`${d.beyondRetention} older than the API's retention (the API no longer has them; not an error)`)
      lines.push(`  ${d.day} ${d.file}: ${parts.join(', ')}`)
    }
  }
  return lines.join('\n') + '\n'
}

/** The exit code: a failure's own, else 10 when records were missing, else the run's (0, or 8 for anomalies). */
function exitOf(summary: RunSummary, reports: SourceReport[]): number {
  const failed = summary.exitCode !== EXIT_CODES.OK && summary.exitCode !== EXIT_CODES.ANOMALY
  if (failed) return summary.exitCode
  return reports.some((r) => r.missing > 0) ? EXIT_CODES.RECORDS_MISSING : summary.exitCode
}

/**
 * Test seam: Y360_TEST_RECONCILE_PAUSE=repair:n stops before the n-th batch of repairs, =rename:n before the n-th
 * merged day file is renamed into place (after its reopen), and says so on stderr: a crash test kills it there.
 */
function testPause(io: Io): ((point: 'repair' | 'rename', n: number) => Promise<void>) | undefined {
  const m = /^(repair|rename):([1-9]\d*)$/.exec(io.env.Y360_TEST_RECONCILE_PAUSE ?? '')
  if (m === null) return undefined
  return (point, n) => {
    if (point !== m[1] || n !== Number(m[2])) return Promise.resolve()
    io.stderr.write(`y360-audit reconcile: test pause before ${point} ${n}\n`)
    const keep = setInterval(() => undefined, 1 << 30)
    return new Promise((_resolve, reject) => io.signal.addEventListener('abort', () => {
      clearInterval(keep)
      reject(new Y360Error('INTERRUPTED', 'stopped during the test pause'))
    }, { once: true }))
  }
}

/** One organisation's reconcile: its run under the archive's lock, and its per-source reports. */
async function reconcileOrg(cfg: Config, log: Logger, io: Io, limiters: Limiters): Promise<{ code: number; reports: SourceReport[] }> {
  for (const w of cfg.warnings) log.warn(w)
  const tool = `y360-audit ${packageVersion()}`
  let output: ReconcileOutput | undefined
  const make = (beforeSeal: BeforeSeal | undefined): ReconcileOutput => (output = new ReconcileOutput(cfg, log, io.now, { dryRun: cfg.dryRun, pause: testPause(io), beforeSeal, tool }))
  try {
    const summary = await run({ cfg, log, now: io.now, timer: io.timer, signal: io.signal, output: make, tool, limiters })
    const reports = summary.sources.map((s) => sourceReport(s, output?.results.get(s.source)))
    return { code: io.interrupted() ?? exitOf(summary, reports), reports }
  } catch (err) {
    if (err instanceof Y360Error && err.code === 'CONFIG_INVALID') log.error(`configuration problems: ${err.message}`)
    else log.error({ code: (err as Y360Error).code }, (err as Error).message)
    return { code: io.interrupted() ?? exitCodeOf(err), reports: [] }
  }
}

/** The report of every organisation: text (each line led by the organisation's name with --config) or --json. */
function planReport(plan: Plan, results: { org: OrgPlan; code: number; reports: SourceReport[] }[], code: number): string {
  const dryRun = plan.process.dryRun
  if (plan.file === undefined) {
    const reports = results[0]?.reports ?? []
    return plan.process.json ? JSON.stringify({ version: 1, ok: code === EXIT_CODES.OK, exitCode: code, dryRun, sources: reports }) + '\n' : textReport(reports, dryRun)
  }
  if (plan.process.json) {
    const orgs = results.map((r) => ({ org: r.org.config.org, name: r.org.name, ok: r.code === EXIT_CODES.OK, exitCode: r.code, sources: r.reports }))
    return JSON.stringify({ version: 1, ok: code === EXIT_CODES.OK, exitCode: code, dryRun, orgs }) + '\n'
  }
  return results.map((r) => (r.reports.length === 0 ? `${r.org.name}: FAILED (exit ${r.code}), see the log\n` : textReport(r.reports, dryRun).replace(/^(?=\S)/gm, `${r.org.name}/`))).join('')
}

/**
 * `y360-audit reconcile`: returns the exit code. With --config every organisation of the file, one after the other
 * (all through one per-host pacing), each under its own archive locks; the exit code is the most severe of theirs.
 */
export async function reconcileMain(argv: string[], io: Io): Promise<number> {
  let plan: Plan
  try {
    plan = loadPlan({ argv, env: io.env, cwd: io.cwd, now: io.now, mode: 'reconcile' })
  } catch (err) {
    io.stderr.write(`y360-audit reconcile: ${(err as Error).message}\n`)
    return exitCodeOf(err)
  }
  const cfg = plan.process
  let logging: Awaited<ReturnType<typeof createLogger>>
  try {
    logging = await commandLogger(plan, io, io.stderr)
  } catch (err) {
    io.stderr.write(`y360-audit reconcile: ${(err as Error).message}\n`)
    return exitCodeOf(err)
  }
  const { log, close } = logging
  try {
    for (const w of plan.warnings) log.warn(w)
    const limiters = Limiters.capped(cfg.maxRps, io.timer)
    const results: { org: OrgPlan; code: number; reports: SourceReport[] }[] = []
    for (const org of plan.orgs) {
      if (io.signal.aborted) break
      const olog = plan.file === undefined ? log : log.child({ org: org.name }, { msgPrefix: `${org.name}: ` })
      results.push({ org, ...(await reconcileOrg(org.config, olog, io, limiters)) })
    }
    const code = io.interrupted() ?? worstExit(results.map((r) => r.code))
    await new Promise<void>((resolve) => io.stdout.write(planReport(plan, results, code), () => resolve()))
    return code
  } finally {
    await close()
  }
}
