// src/summary.ts metricsText in-process: the whole Prometheus textfile of a run (HELP/TYPE per metric, one sample per
// source), the last success time carried over from the previous file for a source that failed now, counters (_total)
// added to the previous file's, lag = end − newest.
import t from 'tap'
import type { RunSummary, SourceSummary } from '../src/pipeline/outcome.js'
import { metricsText, previousByLabels } from '../src/summary.js'

const END = Date.UTC(2026, 9, 20, 10, 0, 30, 250) // the run ended at …30.25 s
const src = (o: Partial<SourceSummary>): SourceSummary => ({ source: 'mail', ok: true, mode: 'append', pages: 3, fetched: 250, written: 240, duplicates: 10, late: 2, rejected: 1, retries: 4, files: [], repaired: 0, durationMs: 1234, ...o })

t.test('the textfile of a run with one good and one failed source', async (t) => {
  const s: RunSummary = {
    ok: false,
    exitCode: 3,
    sources: [src({ newest: '2026-10-20T10:00:00.000Z' }), src({ source: 'disk', ok: false, code: 'SCOPE_MISSING', fetched: 0, written: 0, duplicates: 0, late: 0, rejected: 0, retries: 0, durationMs: 20 })],
  }
  const previous = 'y360_audit_last_success_timestamp_seconds{source="disk"} 1790000000.5\ny360_audit_last_success_timestamp_seconds{source="mail"} 1\n'
  t.equal(metricsText(s, END, previous), [
    '# HELP y360_audit_up Whether the last run of the source succeeded (1) or failed (0).',
    '# TYPE y360_audit_up gauge',
    'y360_audit_up{source="mail"} 1',
    'y360_audit_up{source="disk"} 0',
    '# HELP y360_audit_last_run_timestamp_seconds Unix time the last run of the source ended.',
    '# TYPE y360_audit_last_run_timestamp_seconds gauge',
    'y360_audit_last_run_timestamp_seconds{source="mail"} 1792490430.25',
    'y360_audit_last_run_timestamp_seconds{source="disk"} 1792490430.25',
    '# HELP y360_audit_last_success_timestamp_seconds Unix time the last successful run of the source ended (kept across failed runs).',
    '# TYPE y360_audit_last_success_timestamp_seconds gauge',
    'y360_audit_last_success_timestamp_seconds{source="mail"} 1792490430.25',
    'y360_audit_last_success_timestamp_seconds{source="disk"} 1790000000.5',
    // Counters (_total) carry over across runs; the previous file had none, so they start from this run.
    '# HELP y360_audit_runs_total Runs of the source. Counts across runs (kept in the textfile).',
    '# TYPE y360_audit_runs_total counter',
    'y360_audit_runs_total{source="mail"} 1',
    'y360_audit_runs_total{source="disk"} 1',
    '# HELP y360_audit_run_failures_total Runs of the source that failed. Counts across runs (kept in the textfile).',
    '# TYPE y360_audit_run_failures_total counter',
    'y360_audit_run_failures_total{source="mail"} 0',
    'y360_audit_run_failures_total{source="disk"} 1',
    '# HELP y360_audit_records_written_total Records written (archive or stdout). Counts across runs (kept in the textfile).',
    '# TYPE y360_audit_records_written_total counter',
    'y360_audit_records_written_total{source="mail"} 240',
    'y360_audit_records_written_total{source="disk"} 0',
    '# HELP y360_audit_records_fetched_total Records received from the API, repeats included. Counts across runs (kept in the textfile).',
    '# TYPE y360_audit_records_fetched_total counter',
    'y360_audit_records_fetched_total{source="mail"} 250',
    'y360_audit_records_fetched_total{source="disk"} 0',
    '# HELP y360_audit_duplicates_dropped_total Records dropped as already archived or delivered. Counts across runs (kept in the textfile).',
    '# TYPE y360_audit_duplicates_dropped_total counter',
    'y360_audit_duplicates_dropped_total{source="mail"} 10',
    'y360_audit_duplicates_dropped_total{source="disk"} 0',
    '# HELP y360_audit_late_arrivals_total Records older than the previous newest one, found in the overlap. Counts across runs (kept in the textfile).',
    '# TYPE y360_audit_late_arrivals_total counter',
    'y360_audit_late_arrivals_total{source="mail"} 2',
    'y360_audit_late_arrivals_total{source="disk"} 0',
    '# HELP y360_audit_records_rejected_total Records without a valid timestamp set aside. Counts across runs (kept in the textfile).',
    '# TYPE y360_audit_records_rejected_total counter',
    'y360_audit_records_rejected_total{source="mail"} 1',
    'y360_audit_records_rejected_total{source="disk"} 0',
    '# HELP y360_audit_retries_total Request retries. Counts across runs (kept in the textfile).',
    '# TYPE y360_audit_retries_total counter',
    'y360_audit_retries_total{source="mail"} 4',
    'y360_audit_retries_total{source="disk"} 0',
    '# HELP y360_audit_records_written Records written (archive or stdout) by the last run.',
    '# TYPE y360_audit_records_written gauge',
    'y360_audit_records_written{source="mail"} 240',
    'y360_audit_records_written{source="disk"} 0',
    '# HELP y360_audit_records_fetched Records received from the API by the last run, repeats included.',
    '# TYPE y360_audit_records_fetched gauge',
    'y360_audit_records_fetched{source="mail"} 250',
    'y360_audit_records_fetched{source="disk"} 0',
    '# HELP y360_audit_duplicates_dropped Records dropped as already archived or delivered by the last run.',
    '# TYPE y360_audit_duplicates_dropped gauge',
    'y360_audit_duplicates_dropped{source="mail"} 10',
    'y360_audit_duplicates_dropped{source="disk"} 0',
    '# HELP y360_audit_late_arrivals Records older than the previous newest one found in the overlap by the last run.',
    '# TYPE y360_audit_late_arrivals gauge',
    'y360_audit_late_arrivals{source="mail"} 2',
    'y360_audit_late_arrivals{source="disk"} 0',
    '# HELP y360_audit_records_rejected Records without a valid timestamp set aside by the last run.',
    '# TYPE y360_audit_records_rejected gauge',
    'y360_audit_records_rejected{source="mail"} 1',
    'y360_audit_records_rejected{source="disk"} 0',
    '# HELP y360_audit_retries Request retries in the last run.',
    '# TYPE y360_audit_retries gauge',
    'y360_audit_retries{source="mail"} 4',
    'y360_audit_retries{source="disk"} 0',
    '# HELP y360_audit_run_duration_seconds Duration of the last run of the source.',
    '# TYPE y360_audit_run_duration_seconds gauge',
    'y360_audit_run_duration_seconds{source="mail"} 1.234',
    'y360_audit_run_duration_seconds{source="disk"} 0.02',
    '# HELP y360_audit_newest_record_timestamp_seconds Instant of the newest record in the archive (or delivered to stdout).',
    '# TYPE y360_audit_newest_record_timestamp_seconds gauge',
    'y360_audit_newest_record_timestamp_seconds{source="mail"} 1792490400',
    '# HELP y360_audit_lag_seconds Age of the newest record when the last run ended (alert when it grows).',
    '# TYPE y360_audit_lag_seconds gauge',
    'y360_audit_lag_seconds{source="mail"} 30.25',
    '',
  ].join('\n'))
})

t.test('a source that never succeeded has no last-success sample; the lag is never negative', async (t) => {
  const s: RunSummary = { ok: false, exitCode: 3, sources: [src({ ok: false, code: 'AUTH_FAILED', newest: '2026-10-20T10:01:00.000Z' })] }
  const text = metricsText(s, END, '')
  t.notMatch(text, /^y360_audit_last_success_timestamp_seconds\{/m)
  t.match(text, /^y360_audit_lag_seconds\{source="mail"\} 0$/m, 'a newest record after the end (clock skew) reads as lag 0')
  t.match(text, /^y360_audit_newest_record_timestamp_seconds\{source="mail"\} 1792490460$/m)
})

t.test('previousByLabels reads one metric by its label text and ignores everything else', async (t) => {
  const text = ['# HELP x y', 'm{source="mail"} 12.5', 'm{source="disk"} NaN', 'm{source="events"} 7', 'mx{source="mail"} 1', 'm{org="a",source="Mail"} 3', ' m{source="mail"} 9'].join('\n')
  t.same(previousByLabels(text, 'm'), new Map([['source="mail"', 12.5], ['source="events"', 7], ['org="a",source="Mail"', 3]]))
})

t.test('the re-check lines: written once a source re-checked a day, the counter carried across runs that did not', async (t) => {
  const lines = (text: string): string[] => text.split('\n').filter((l) => l.includes('recheck'))
  const first = metricsText({ ok: true, exitCode: 0, sources: [src({ recheck: { days: 1, late: 3, maxLateMs: 61_200_500 } }), src({ source: 'disk' })] }, END, '')
  t.same(lines(first), [
    '# HELP y360_audit_recheck_late_arrivals_total Late arrivals the re-check before sealing found and merged in. Counts across runs (kept in the textfile).',
    '# TYPE y360_audit_recheck_late_arrivals_total counter',
    'y360_audit_recheck_late_arrivals_total{source="mail"} 3',
    '# HELP y360_audit_recheck_max_lateness_seconds Largest lateness of a late arrival the last re-check found: the archive\'s newest record before the run minus the record\'s own time.',
    '# TYPE y360_audit_recheck_max_lateness_seconds gauge',
    'y360_audit_recheck_max_lateness_seconds{source="mail"} 61200.5',
  ])
  const second = metricsText({ ok: true, exitCode: 0, sources: [src({}), src({ source: 'disk' })] }, END, first)
  t.same(lines(second), lines(first).slice(0, 3), 'a run without a re-check keeps the counter, not the gauge')
  t.same(lines(metricsText({ ok: true, exitCode: 0, sources: [src({})] }, END, '')), [], 'nothing before any re-check')
})
