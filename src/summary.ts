/**
 * Run outputs for machines: --summary-json (the run's per-source summary as JSON) and --metrics-file (a Prometheus
 * textfile for node_exporter's textfile collector). Both are written atomically, so a scraper never reads half a file.
 */
import { packageVersion } from './package.js'
import { readFile } from 'node:fs/promises'
import { writeFileAtomic } from './atomic.js'
import { Y360Error } from './errors.js'
import type { RunSummary } from './pipeline/run.js'
import type { Scrub } from './secrets.js'
import { parseInstant } from './time.js'

/** What every --summary-json document starts with: the run's times and outcome. */
interface DocumentHead {
  version: 1
  startedAt: string
  finishedAt: string
  ok: boolean
  exitCode: number
  cycle: number
}

/** Everything --summary-json holds. */
export interface SummaryDocument extends DocumentHead {
  sources: RunSummary['sources']
}

/** Builds the --summary-json document of one run. */
export function summaryDocument(s: RunSummary, startedMs: number, finishedMs: number, cycle: number): SummaryDocument {
  return { version: 1, startedAt: new Date(startedMs).toISOString(), finishedAt: new Date(finishedMs).toISOString(), ok: s.ok, exitCode: s.exitCode, cycle, sources: s.sources }
}

/** One organisation's part of a --config run's summary: its id, name, outcome and sources. */
export interface OrgSummary {
  org: number
  name: string
  ok: boolean
  exitCode: number
  sources: RunSummary['sources']
}

/** The --summary-json document of a --config run: the run's outcome, then each organisation's (`orgs`, in file order). */
export interface OrgsSummaryDocument extends DocumentHead {
  orgs: OrgSummary[]
}

/** One organisation's run as --summary-json and --metrics-file of a --config run see it. */
export interface OrgRunSummary {
  org: number
  name: string
  summary: RunSummary
}

/** Builds the --summary-json document of one --config run (one entry per organisation). */
export function orgsSummaryDocument(orgs: readonly OrgRunSummary[], exitCode: number, startedMs: number, finishedMs: number, cycle: number): OrgsSummaryDocument {
  return {
    version: 1, startedAt: new Date(startedMs).toISOString(), finishedAt: new Date(finishedMs).toISOString(), ok: exitCode === 0, exitCode, cycle,
    orgs: orgs.map((o) => ({ org: o.org, name: o.name, ok: o.summary.ok, exitCode: o.summary.exitCode, sources: o.summary.sources })),
  }
}

/** Writes --summary-json atomically. */
export async function writeSummaryJson(path: string, doc: SummaryDocument | OrgsSummaryDocument, scrub: Scrub = (s) => s): Promise<void> {
  try {
    await writeFileAtomic(path, scrub(summaryText(doc)))
  } catch (err) {
    throw new Y360Error('SINK_WRITE', `cannot write the summary file ${path}: ${(err as Error).message}`, { path }, { cause: err })
  }
}

/** What `y360_audit_build_info` labels: the tool's version and the Node.js it runs on. */
export interface BuildInfo {
  version: string
  node: string
}

/** The running build (package version, process.version). */
export function buildInfo(): BuildInfo {
  return { version: packageVersion(), node: process.version }
}

/** The --summary-json document as written (also to stdout for `--summary-json -`). */
export function summaryText(doc: SummaryDocument | OrgsSummaryDocument): string {
  return JSON.stringify(doc, null, 2) + '\n'
}

type SourceSummary = RunSummary['sources'][number]

interface Metric {
  name: string
  help: string
  type: 'gauge' | 'counter'
  value: (s: Series) => number | undefined
}

const LAST_SUCCESS = 'y360_audit_last_success_timestamp_seconds'

/** Values of `name{<labels>} v` lines in a previous textfile, by the label text between the braces. */
export function previousByLabels(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>()
  const re = new RegExp(`^${name}\\{([^}\n]*)\\} (\\S+)$`, 'gm')
  for (let m = re.exec(text); m !== null; m = re.exec(text)) if (Number.isFinite(Number(m[2]))) out.set(m[1], Number(m[2]))
  return out
}

/** One series of the textfile: a source's summary and its labels (`source="mail"`, or `org="…",source="mail"`). */
interface Series {
  labels: string
  src: SourceSummary
}

const sec = (ms: number): number => Math.round(ms) / 1000
const instantSec = (iso: string | undefined): number | undefined => {
  const us = iso === undefined ? undefined : parseInstant(iso)
  return us === undefined ? undefined : us / 1e6
}
/** A sample value without float noise: whole numbers as they are, others rounded to the millisecond. */
const show = (v: number): string => (Number.isInteger(v) ? String(v) : String(Math.round(v * 1000) / 1000))

/** Counters: this run's amount per source, added to the previous textfile's value (counters survive across runs). */
const COUNTERS: readonly { name: string; help: string; value: (r: SourceSummary) => number }[] = [
  { name: 'y360_audit_runs_total', help: 'Runs of the source.', value: () => 1 },
  { name: 'y360_audit_run_failures_total', help: 'Runs of the source that failed.', value: (r) => (r.ok ? 0 : 1) },
  { name: 'y360_audit_records_written_total', help: 'Records written (archive or stdout).', value: (r) => r.written },
  { name: 'y360_audit_records_fetched_total', help: 'Records received from the API, repeats included.', value: (r) => r.fetched },
  { name: 'y360_audit_duplicates_dropped_total', help: 'Records dropped as already archived or delivered.', value: (r) => r.duplicates },
  { name: 'y360_audit_late_arrivals_total', help: 'Records older than the previous newest one, found in the overlap.', value: (r) => r.late },
  { name: 'y360_audit_records_rejected_total', help: 'Records without a valid timestamp set aside.', value: (r) => r.rejected },
  { name: 'y360_audit_retries_total', help: 'Request retries.', value: (r) => r.retries },
]

/**
 * The Prometheus textfile of one run; `previous` is the old file's text (or ''), `finishedMs` the run's end. Counters
 * (`_total`) and the last success time carry over from `previous`; the gauges describe the last run. `build` adds
 * `y360_audit_build_info` (left out by callers comparing bytes across Node versions).
 */
export function metricsText(s: RunSummary, finishedMs: number, previous: string, build?: BuildInfo): string {
  return renderMetrics(s.sources.map((src) => ({ labels: `source="${src.source}"`, src })), finishedMs, previous, build)
}

/** A Prometheus label value, escaped. */
const labelValue = (v: string): string => v.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`))

/** The textfile of a --config run: every series also carries the organisation's name as `org` (one file for all). */
export function orgsMetricsText(orgs: readonly OrgRunSummary[], finishedMs: number, previous: string, build?: BuildInfo): string {
  return renderMetrics(orgs.flatMap((o) => o.summary.sources.map((src) => ({ labels: `org="${labelValue(o.name)}",source="${src.source}"`, src }))), finishedMs, previous, build)
}

/** The textfile of `series` (see metricsText). */
function renderMetrics(series: readonly Series[], finishedMs: number, previous: string, build?: BuildInfo): string {
  const lastSuccess = previousByLabels(previous, LAST_SUCCESS)
  for (const x of series) if (x.src.ok) lastSuccess.set(x.labels, sec(finishedMs))
  const counters: Metric[] = COUNTERS.map((c) => {
    const before = previousByLabels(previous, c.name)
    return { name: c.name, help: `${c.help} Counts across runs (kept in the textfile).`, type: 'counter', value: (x) => (before.get(x.labels) ?? 0) + c.value(x.src) }
  })
  const metrics: Metric[] = [
    { name: 'y360_audit_up', help: 'Whether the last run of the source succeeded (1) or failed (0).', type: 'gauge', value: (x) => (x.src.ok ? 1 : 0) },
    { name: 'y360_audit_last_run_timestamp_seconds', help: 'Unix time the last run of the source ended.', type: 'gauge', value: () => sec(finishedMs) },
    { name: LAST_SUCCESS, help: 'Unix time the last successful run of the source ended (kept across failed runs).', type: 'gauge', value: (x) => lastSuccess.get(x.labels) },
    ...counters,
    { name: 'y360_audit_records_written', help: 'Records written (archive or stdout) by the last run.', type: 'gauge', value: (x) => x.src.written },
    { name: 'y360_audit_records_fetched', help: 'Records received from the API by the last run, repeats included.', type: 'gauge', value: (x) => x.src.fetched },
    { name: 'y360_audit_duplicates_dropped', help: 'Records dropped as already archived or delivered by the last run.', type: 'gauge', value: (x) => x.src.duplicates },
    { name: 'y360_audit_late_arrivals', help: 'Records older than the previous newest one found in the overlap by the last run.', type: 'gauge', value: (x) => x.src.late },
    { name: 'y360_audit_records_rejected', help: 'Records without a valid timestamp set aside by the last run.', type: 'gauge', value: (x) => x.src.rejected },
    { name: 'y360_audit_retries', help: 'Request retries in the last run.', type: 'gauge', value: (x) => x.src.retries },
    { name: 'y360_audit_run_duration_seconds', help: 'Duration of the last run of the source.', type: 'gauge', value: (x) => sec(x.src.durationMs) },
    { name: 'y360_audit_newest_record_timestamp_seconds', help: 'Instant of the newest record in the archive (or delivered to stdout).', type: 'gauge', value: (x) => instantSec(x.src.newest) },
    // Against now and the last success too: an archive whose newest record lies in the future still shows its stall.
    { name: 'y360_audit_lag_seconds', help: 'Age of the newest record when the last run ended (alert when it grows).', type: 'gauge', value: (x) => { const n = instantSec(x.src.newest); const ok = lastSuccess.get(x.labels); if (n === undefined) return undefined; return Math.max(0, sec(finishedMs) - n, ok === undefined ? 0 : sec(finishedMs) - ok) } },
  ]
  const lines: string[] = []
  if (build !== undefined) {
    lines.push('# HELP y360_audit_build_info The y360-audit version and the Node.js version it runs on (always 1).', '# TYPE y360_audit_build_info gauge', `y360_audit_build_info{version="${labelValue(build.version)}",node="${labelValue(build.node)}"} 1`)
  }
  for (const m of metrics) {
    lines.push(`# HELP ${m.name} ${m.help}`, `# TYPE ${m.name} ${m.type}`)
    for (const x of series) {
      const v = m.value(x)
      if (v !== undefined) lines.push(`${m.name}{${x.labels}} ${show(v)}`)
    }
  }
  lines.push(...anomalyLines(series), ...sealLines(series), ...recheckLines(series, previous))
  return lines.join('\n') + '\n'
}

const RECHECK_TOTAL = 'y360_audit_recheck_late_arrivals_total'

/**
 * The re-check before sealing: late arrivals it found (a counter, carried across runs) and the largest lateness of the
 * last run that re-checked a day; written once a run re-checked a day (or the previous file had the counter).
 */
function recheckLines(series: readonly Series[], previous: string): string[] {
  const before = previousByLabels(previous, RECHECK_TOTAL)
  const rows = series.filter((x) => x.src.recheck !== undefined || before.has(x.labels))
  if (rows.length === 0) return []
  const lines = [`# HELP ${RECHECK_TOTAL} Late arrivals the re-check before sealing found and merged in. Counts across runs (kept in the textfile).`, `# TYPE ${RECHECK_TOTAL} counter`]
  for (const x of rows) lines.push(`${RECHECK_TOTAL}{${x.labels}} ${(before.get(x.labels) ?? 0) + (x.src.recheck?.late ?? 0)}`)
  const gauges = rows.filter((x) => x.src.recheck !== undefined)
  if (gauges.length === 0) return lines
  lines.push('# HELP y360_audit_recheck_max_lateness_seconds Largest lateness of a late arrival the last re-check found: the archive\'s newest record before the run minus the record\'s own time.', '# TYPE y360_audit_recheck_max_lateness_seconds gauge')
  for (const x of gauges) lines.push(`y360_audit_recheck_max_lateness_seconds{${x.labels}} ${show((x.src.recheck?.maxLateMs ?? 0) / 1000)}`)
  return lines
}

/** `y360_audit_anomalies{…,source,kind}` for every kind a source saw in the last run (nothing when none did). */
function anomalyLines(series: readonly Series[]): string[] {
  const rows = series.flatMap((x) => Object.entries(x.src.anomalies ?? {}).map(([kind, n]) => `y360_audit_anomalies{${x.labels},kind="${kind}"} ${n}`))
  if (rows.length === 0) return []
  return ['# HELP y360_audit_anomalies Broken assumptions about the API or the archive seen by the last run, by kind (README "What is checked on every page").', '# TYPE y360_audit_anomalies gauge', ...rows]
}

/**
 * The seal chain of each archive source that seals (nothing for runs without seals, so those files stay as before):
 * its length, the days sealed and resealed by the last run, and its head as a label, for a SIEM to keep outside.
 */
function sealLines(series: readonly Series[]): string[] {
  const sealing = series.flatMap((x) => (x.src.seal === undefined ? [] : [{ labels: x.labels, seal: x.src.seal }]))
  if (sealing.length === 0) return []
  const gauge = (name: string, help: string, value: (x: (typeof sealing)[number]) => number): string[] => [`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, ...sealing.map((x) => `${name}{${x.labels}} ${value(x)}`)]
  return [
    ...gauge('y360_audit_seal_entries', 'Entries in the seal manifest of the source after the last run.', (x) => x.seal.entries),
    ...gauge('y360_audit_days_sealed', 'Day files sealed for the first time by the last run.', (x) => x.seal.sealed.length),
    ...gauge('y360_audit_days_resealed', 'Sealed day files the last run changed and sealed again.', (x) => x.seal.resealed.length),
    '# HELP y360_audit_seal_head_info Hash of the last seal manifest entry of the source (label head; keep a copy outside the archive; always 1).',
    '# TYPE y360_audit_seal_head_info gauge',
    ...sealing.filter((x) => x.seal.head !== null).map((x) => `y360_audit_seal_head_info{${x.labels},head="${x.seal.head as string}"} 1`),
  ]
}

/** Writes the textfile `render` makes of the previous one's text (counters carry over), atomically. */
export async function writeMetricsWith(path: string, render: (previous: string) => string, scrub: Scrub = (t) => t): Promise<void> {
  let previous = ''
  try {
    previous = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new Y360Error('SINK_WRITE', `cannot read the metrics file ${path}: ${(err as Error).message}`, { path }, { cause: err })
  }
  try {
    await writeFileAtomic(path, scrub(render(previous)), 0o644)
  } catch (err) {
    throw new Y360Error('SINK_WRITE', `cannot write the metrics file ${path}: ${(err as Error).message}`, { path }, { cause: err })
  }
}
