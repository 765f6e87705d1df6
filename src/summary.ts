/**
 * Run outputs for machines: --summary-json (the run's per-source summary as JSON) and --metrics-file (a Prometheus
 * textfile for node_exporter's textfile collector). Both are written atomically, so a scraper never reads half a file.
 */
import { readFile } from 'node:fs/promises'
import { writeFileAtomic } from './atomic.js'
import { Y360Error } from './errors.js'
import type { RunSummary } from './pipeline/run.js'
import type { Scrub } from './secrets.js'
import { parseInstant } from './time.js'

/** Everything --summary-json holds. */
export interface SummaryDocument {
  version: 1
  startedAt: string
  finishedAt: string
  ok: boolean
  exitCode: number
  cycle: number
  sources: RunSummary['sources']
}

/** Builds the --summary-json document of one run. */
export function summaryDocument(s: RunSummary, startedMs: number, finishedMs: number, cycle: number): SummaryDocument {
  return { version: 1, startedAt: new Date(startedMs).toISOString(), finishedAt: new Date(finishedMs).toISOString(), ok: s.ok, exitCode: s.exitCode, cycle, sources: s.sources }
}

/** Writes --summary-json atomically. */
export async function writeSummaryJson(path: string, doc: SummaryDocument, scrub: Scrub = (s) => s): Promise<void> {
  try {
    await writeFileAtomic(path, scrub(JSON.stringify(doc, null, 2)) + '\n')
  } catch (err) {
    throw new Y360Error('SINK_WRITE', `cannot write the summary file ${path}: ${(err as Error).message}`, { path }, { cause: err })
  }
}

interface Metric {
  name: string
  help: string
  type: 'gauge'
  value: (src: RunSummary['sources'][number]) => number | undefined
}

const LAST_SUCCESS = 'y360_audit_last_success_timestamp_seconds'

/** Values of `name{source="x"} v` lines in a previous textfile (to carry the last success time over a failed run). */
export function previousValues(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>()
  const re = new RegExp(`^${name}\\{source="([a-z]+)"\\} (\\S+)$`, 'gm')
  for (let m = re.exec(text); m !== null; m = re.exec(text)) if (Number.isFinite(Number(m[2]))) out.set(m[1], Number(m[2]))
  return out
}

const sec = (ms: number): number => Math.round(ms) / 1000
const instantSec = (iso: string | undefined): number | undefined => {
  const us = iso === undefined ? undefined : parseInstant(iso)
  return us === undefined ? undefined : us / 1e6
}

/** The Prometheus textfile of one run; `previous` is the old file's text (or ''), `finishedMs` the run's end. */
export function metricsText(s: RunSummary, finishedMs: number, previous: string): string {
  const lastSuccess = previousValues(previous, LAST_SUCCESS)
  for (const src of s.sources) if (src.ok) lastSuccess.set(src.source, sec(finishedMs))
  const metrics: Metric[] = [
    { name: 'y360_audit_up', help: 'Whether the last run of the source succeeded (1) or failed (0).', type: 'gauge', value: (r) => (r.ok ? 1 : 0) },
    { name: 'y360_audit_last_run_timestamp_seconds', help: 'Unix time the last run of the source ended.', type: 'gauge', value: () => sec(finishedMs) },
    { name: LAST_SUCCESS, help: 'Unix time the last successful run of the source ended (kept across failed runs).', type: 'gauge', value: (r) => lastSuccess.get(r.source) },
    { name: 'y360_audit_records_written', help: 'Records written (archive or stdout) by the last run.', type: 'gauge', value: (r) => r.written },
    { name: 'y360_audit_records_fetched', help: 'Records received from the API by the last run, repeats included.', type: 'gauge', value: (r) => r.fetched },
    { name: 'y360_audit_duplicates_dropped', help: 'Records dropped as already archived or delivered by the last run.', type: 'gauge', value: (r) => r.duplicates },
    { name: 'y360_audit_late_arrivals', help: 'Records older than the previous newest one found in the overlap by the last run.', type: 'gauge', value: (r) => r.late },
    { name: 'y360_audit_records_rejected', help: 'Records without a valid timestamp set aside by the last run.', type: 'gauge', value: (r) => r.rejected },
    { name: 'y360_audit_retries', help: 'Request retries in the last run.', type: 'gauge', value: (r) => r.retries },
    { name: 'y360_audit_run_duration_seconds', help: 'Duration of the last run of the source.', type: 'gauge', value: (r) => sec(r.durationMs) },
    { name: 'y360_audit_newest_record_timestamp_seconds', help: 'Instant of the newest record in the archive (or delivered to stdout).', type: 'gauge', value: (r) => instantSec(r.newest) },
    // Against now and the last success too: an archive whose newest record lies in the future still shows its stall.
    { name: 'y360_audit_lag_seconds', help: 'Age of the newest record when the last run ended (alert when it grows).', type: 'gauge', value: (r) => { const n = instantSec(r.newest); const ok = lastSuccess.get(r.source); if (n === undefined) return undefined; return Math.max(0, sec(finishedMs) - n, ok === undefined ? 0 : sec(finishedMs) - ok) } },
  ]
  const lines: string[] = []
  for (const m of metrics) {
    lines.push(`# HELP ${m.name} ${m.help}`, `# TYPE ${m.name} ${m.type}`)
    for (const src of s.sources) {
      const v = m.value(src)
      if (v !== undefined) lines.push(`${m.name}{source="${src.source}"} ${v}`)
    }
  }
  lines.push(...anomalyLines(s))
  return lines.join('\n') + '\n'
}

/** `y360_audit_anomalies{source,kind}` for every kind a source saw in the last run (nothing when none did). */
function anomalyLines(s: RunSummary): string[] {
  const rows = s.sources.flatMap((src) => Object.entries(src.anomalies ?? {}).map(([kind, n]) => `y360_audit_anomalies{source="${src.source}",kind="${kind}"} ${n}`))
  if (rows.length === 0) return []
  return ['# HELP y360_audit_anomalies Broken assumptions about the API or the archive seen by the last run, by kind (README "What is checked on every page").', '# TYPE y360_audit_anomalies gauge', ...rows]
}

/** Writes the textfile atomically, carrying the last success time of sources that failed this time. */
export async function writeMetricsFile(path: string, s: RunSummary, finishedMs: number, scrub: Scrub = (t) => t): Promise<void> {
  let previous = ''
  try {
    previous = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new Y360Error('SINK_WRITE', `cannot read the metrics file ${path}: ${(err as Error).message}`, { path }, { cause: err })
  }
  try {
    await writeFileAtomic(path, scrub(metricsText(s, finishedMs, previous)), 0o644)
  } catch (err) {
    throw new Y360Error('SINK_WRITE', `cannot write the metrics file ${path}: ${(err as Error).message}`, { path }, { cause: err })
  }
}
