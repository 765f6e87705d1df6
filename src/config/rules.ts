/** Cross-field rules: which sources run, and each rule between options as a small named function returning its problems. */
import { statSync } from 'node:fs'
import { dirname } from 'node:path'
import { checkDir } from '../prepare.js'
import type { FilterName } from '../sources/descriptor.js'
import { SOURCE_NAMES } from '../sources/descriptor.js'
import { ENDPOINTS } from '../sources/index.js'
import { FILTER_OPTIONS, OPTION, SOURCE_OPTIONS } from './options.js'
import { problem, type Problem } from './problem.js'
import type { Config, SourceConfig } from './types.js'
import type { Mode, Values } from './values.js'

/** A rule: the problems of a configuration assembled from individually valid values. */
export type Rule = (cfg: Config, mode: Mode) => Problem[]

/** The sources to run: those with a directory, narrowed by --sources; with --stdout, --sources alone is enough. */
export function selectSources(v: Values): { sources: SourceConfig[]; problems: Problem[] } {
  const wanted = v.get(OPTION.sourceNames)
  const stdout = v.get(OPTION.stdout)
  const sources: SourceConfig[] = []
  const problems: Problem[] = []
  for (const name of SOURCE_NAMES) {
    if (wanted !== undefined && !wanted.includes(name)) continue
    const rows = SOURCE_OPTIONS[name]
    const dir = v.get(rows.dir)
    if (dir === undefined && !(stdout && wanted !== undefined)) {
      if (wanted !== undefined) problems.push(problem(OPTION.sourceNames.flag, name, `--sources names ${name} but its directory is not set: set ${rows.dir.env} or --${rows.dir.flag}`))
      continue
    }
    sources.push({ name, dir: dir ?? '', base: v.get(rows.base) })
  }
  return { sources, problems }
}

/** The filters that are set, in the order of their rows. */
export function filtersOf(v: Values): Config['filters'] {
  return Object.fromEntries(Object.entries(v.all(FILTER_OPTIONS)).filter(([, value]) => value !== undefined))
}

const dirRows = SOURCE_NAMES.map((n) => SOURCE_OPTIONS[n].dir)

/** A run needs at least one source: a directory, or --sources with --stdout. */
export const someSource: Rule = (cfg) => {
  if (cfg.sources.length > 0) return []
  if (cfg.stdout) return [problem(OPTION.sourceNames.flag, undefined, `no source to run: pass --sources ${SOURCE_NAMES.join(',')}`)]
  return [problem(undefined, undefined, `no source to run: set at least one of ${dirRows.map((o) => o.env).join(', ')} (or ${dirRows.map((o) => `--${o.flag}`).join(', ')})`)]
}

/** A filter an endpoint cannot apply would silently widen the pull. */
export const filtersSupported: Rule = (cfg) =>
  cfg.sources.flatMap((s) =>
    (Object.keys(cfg.filters) as FilterName[])
      .filter((f) => !ENDPOINTS[s.name].filters.has(f))
      .map((f) => problem(FILTER_OPTIONS[f].flag, undefined, `--${FILTER_OPTIONS[f].flag} is not supported by the ${s.name} source; narrow the run with --sources`)),
  )

/** The unified log takes either list of UIDs, not both. */
export const includeOrExcludeForEvents: Rule = (cfg) =>
  cfg.sources.some((s) => s.name === 'events') && cfg.filters.includeUids !== undefined && cfg.filters.excludeUids !== undefined
    ? [problem(OPTION.excludeUids.flag, undefined, '--include-uids and --exclude-uids cannot be combined for the events source')]
    : []

/** The range is half-open, [since, until): an empty or reversed range is a typo, not "nothing new". */
export const sinceBeforeUntil: Rule = (cfg) =>
  cfg.since !== undefined && cfg.until !== undefined && cfg.since >= cfg.until ? [problem(OPTION.since.flag, undefined, '--since must be before --until')] : []

/** A fixed range would be fetched again every cycle. */
export const watchWithoutRange: Rule = (cfg) =>
  cfg.watch && (cfg.since !== undefined || cfg.until !== undefined)
    ? [problem(OPTION.watch.flag, undefined, '--watch cannot be combined with --since/--until: every cycle would fetch the same range again; run the backfill once, then watch')]
    : []

/** A file run's checkpoint is its archive; a cursor file beside it could disagree with the data. */
export const stateFileNeedsStdout: Rule = (cfg) =>
  cfg.stateFile !== undefined && !cfg.stdout ? [problem(OPTION.stateFile.flag, cfg.stateFile, '--state-file needs --stdout (the archive is the checkpoint of a file run)')] : []

/** Archive lines stay as the API (or the Python script) wrote them. */
export const tagSourceNeedsStdout: Rule = (cfg) => (cfg.tagSource && !cfg.stdout ? [problem(OPTION.tagSource.flag, undefined, '--tag-source needs --stdout')] : [])

/** Below 100ms every request would time out. */
export const timeoutAtLeast100ms: Rule = (cfg) => (cfg.timeoutMs < 100 ? [problem(OPTION.timeoutMs.flag, undefined, '--timeout must be at least 100ms')] : [])

/**
 * The archive directories, judged without touching the disk (the archive output creates them under its lock):
 * writable or creatable for fetch, existing for verify. Judged last, so they follow the problems they may stem from.
 */
export const directoriesUsable: Rule = (cfg, mode) => {
  if (cfg.stdout) return []
  return cfg.sources.flatMap((s) => {
    const flag = SOURCE_OPTIONS[s.name].dir.flag
    const why = checkDir(s.dir, `the ${s.name} directory (--${flag})`, mode !== 'fetch')
    return why === undefined ? [] : [problem(flag, s.dir, why)]
  })
}

/** --json shapes verify's report; the fetch job has --summary-json. */
export const jsonOnlyForVerify: Rule = (cfg, mode) => (cfg.json && mode === 'fetch' ? [problem(OPTION.json.flag, undefined, '--json is an option of verify; a fetch run writes its summary with --summary-json (- for stdout)')] : [])

/** `-` puts a document on stdout: not beside the records of --stdout, and only one document there. */
export const stdoutTakenOnce: Rule = (cfg, mode) => {
  if (mode !== 'fetch') return []
  const dashed = [OPTION.summaryJson, OPTION.metricsFile].filter((o) => (o === OPTION.summaryJson ? cfg.summaryJson : cfg.metricsFile) === '-')
  if (dashed.length > 0 && cfg.stdout) return [problem(dashed[0].flag, '-', `--${dashed[0].flag} - would mix with the records --stdout writes there; give it a file`)]
  if (dashed.length > 1) return [problem(OPTION.metricsFile.flag, '-', '--summary-json - and --metrics-file - cannot both go to stdout; give one of them a file')]
  return []
}

/**
 * Every file the run writes besides the archive (state, summary, metrics, debug log) is judged before the first
 * request: not a directory, and its directory writable or creatable (fetch creates it once the configuration is valid).
 */
export const outputFilesUsable: Rule = (cfg, mode) => {
  if (mode !== 'fetch') return []
  const files: [string, string | undefined][] = [[OPTION.stateFile.flag, cfg.stateFile], [OPTION.summaryJson.flag, cfg.summaryJson], [OPTION.metricsFile.flag, cfg.metricsFile], [OPTION.logFile.flag, cfg.logFile]]
  return files.flatMap(([flag, file]) => {
    if (file === undefined || file === '-') return []
    let isDir = false
    try {
      isDir = statSync(file).isDirectory()
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      // Missing is the usual case (its directory is judged next); below a file (ENOTDIR) the directory check says so.
      if (code !== 'ENOENT' && code !== 'ENOTDIR') return [problem(flag, file, `--${flag} ${file}: ${(err as Error).message}`)]
    }
    if (isDir) return [problem(flag, file, `--${flag} ${file} is a directory; give a file name`)]
    const why = checkDir(dirname(file), `the directory of --${flag}`)
    return why === undefined ? [] : [problem(flag, file, why)]
  })
}

/** Every rule, in the order their problems are listed. */
export const RULES: readonly Rule[] = [someSource, filtersSupported, includeOrExcludeForEvents, sinceBeforeUntil, watchWithoutRange, stateFileNeedsStdout, tagSourceNeedsStdout, timeoutAtLeast100ms, jsonOnlyForVerify, stdoutTakenOnce, outputFilesUsable, directoriesUsable]

/** Event types the endpoints do not know yet are sent anyway (the vendor adds types), with a warning. */
export function unknownTypeWarnings(cfg: Config): string[] {
  return cfg.sources.flatMap((s) => {
    const ep = ENDPOINTS[s.name]
    if (!ep.filters.has('types')) return []
    return (cfg.filters.types ?? []).filter((t) => !ep.knownTypes.includes(t)).map((t) => `${s.name}: event type "${t}" is not in the known list; sending it anyway`)
  })
}
