/** Cross-field rules: which sources run, and each rule between options as a small named function returning its problems. */
import { accessSync, constants, lstatSync, realpathSync, statSync } from 'node:fs'
import { dirname } from 'node:path'
import { loadSealKey, loadSealPublicKey } from '../archive/manifest.js'
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
  // --syslog without any archive directory streams like --stdout does (sources named by --sources).
  const stdout = v.get(OPTION.stdout) || (v.get(OPTION.syslog) !== undefined && SOURCE_NAMES.every((n) => v.get(SOURCE_OPTIONS[n].dir) === undefined))
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

/** The problem of a run without any archive directory (a config file's entry says it in its own words). */
export const NO_DIRECTORY = `no source to run: set at least one of ${dirRows.map((o) => o.env).join(', ')} (or ${dirRows.map((o) => `--${o.flag}`).join(', ')})`

/** A run needs at least one source: a directory, or --sources with --stdout. */
export const someSource: Rule = (cfg) => {
  if (cfg.sources.length > 0) return []
  if (cfg.stdout || cfg.syslog !== undefined) return [problem(OPTION.sourceNames.flag, undefined, `no source to run: pass --sources ${SOURCE_NAMES.join(',')}`)]
  return [problem(undefined, undefined, NO_DIRECTORY)]
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

/** --syslog with no archive directory: syslog is the run's output (cursor in --state-file), not a forwarder. */
export function syslogAlone(cfg: Config): boolean {
  return cfg.syslog !== undefined && !cfg.stdout && cfg.sources.every((s) => s.dir === '')
}

/** A file run's checkpoint is its archive; a cursor file beside it could disagree with the data. */
export const stateFileNeedsStdout: Rule = (cfg) =>
  cfg.stateFile !== undefined && !cfg.stdout && !syslogAlone(cfg) ? [problem(OPTION.stateFile.flag, cfg.stateFile, '--state-file needs --stdout (the archive is the checkpoint of a file run)')] : []

/** One output of records per run: stdout, or syslog. */
export const syslogNotWithStdout: Rule = (cfg) => (cfg.syslog !== undefined && cfg.stdout ? [problem(OPTION.syslog.flag, undefined, '--syslog cannot be combined with --stdout: pick one output')] : [])

/** A CA file only means something for TLS. */
export const syslogCaNeedsTls: Rule = (cfg) =>
  cfg.syslogCa !== undefined && cfg.syslog?.protocol !== 'tls' ? [problem(OPTION.syslogCa.flag, cfg.syslogCa, '--syslog-ca needs a --syslog tls://host:port URL')] : []

/** The forwarder follows appends by byte offset; a backfill rewrites day files it may already have forwarded. */
export const syslogBesideArchiveAppendsOnly: Rule = (cfg) =>
  cfg.syslog !== undefined && !cfg.stdout && !syslogAlone(cfg) && cfg.since !== undefined
    ? [problem(OPTION.since.flag, undefined, '--since cannot be combined with --syslog beside archive directories (a backfill rewrites day files the forwarder follows); replay a range to syslog without directories: --syslog URL --sources NAMES --since …')]
    : []

/** Archive lines stay as the API (or the Python script) wrote them. */
export const tagSourceNeedsStdout: Rule = (cfg) => (cfg.tagSource && !cfg.stdout ? [problem(OPTION.tagSource.flag, undefined, '--tag-source needs --stdout')] : [])

/** Below 100ms every request would time out. */
export const timeoutAtLeast100ms: Rule = (cfg) => (cfg.timeoutMs < 100 ? [problem(OPTION.timeoutMs.flag, undefined, '--timeout must be at least 100ms')] : [])

/** The request deadline bounds every request; below 100ms none could finish. */
export const deadlineAtLeast100ms: Rule = (cfg) =>
  cfg.requestDeadlineMs < 100 ? [problem(OPTION.requestDeadlineMs.flag, undefined, '--request-deadline must be at least 100ms')] : []

/**
 * Two sources writing the same files (same directory, after resolving links, and the same base name) would interleave
 * their records, and one's torn-tail repair would move the other's lines to `.torn`.
 */
export const distinctFiles: Rule = (cfg) => {
  if (cfg.stdout) return []
  const seen = new Map<string, string>()
  const out: Problem[] = []
  for (const s of cfg.sources) {
    const key = `${realDir(s.dir)}\0${s.base}`
    const other = seen.get(key)
    if (other === undefined) seen.set(key, s.name)
    else out.push(problem(SOURCE_OPTIONS[s.name].base.flag, s.base, `the ${other} and ${s.name} sources would write the same files (${s.dir}/${s.base}_<day>.${cfg.ext}): give them different directories (--${other}-dir, --${s.name}-dir) or base names (--${other}-base, --${s.name}-base)`))
  }
  return out
}

/** A directory with its links resolved, as far as it exists (nothing is created to find out). */
function realDir(dir: string): string {
  try {
    return realpathSync(dir)
  } catch {
    return dir // not there yet: two spellings of a missing directory are compared as given (already absolute)
  }
}

/** The debug log file: an existing one must be a regular file we can write; a missing one, creatable. Judged without touching the disk. */
export const logFileUsable: Rule = (cfg, mode) => {
  const path = cfg.logFile
  if (path === undefined || mode === 'verify') return [] // verify writes no debug log
  const fix = 'fix --log-file / Y360_LOG_FILE or pass --no-log-file'
  let st
  try {
    st = lstatSync(path)
  } catch {
    const why = checkDir(dirname(path), 'the debug log directory')
    return why === undefined ? [] : [problem(OPTION.logFile.flag, path, `cannot create the debug log file ${path}: ${why}; ${fix}`)]
  }
  if (!st.isFile()) return [problem(OPTION.logFile.flag, path, `the debug log file ${path} is ${st.isSymbolicLink() ? 'a symbolic link (never followed)' : 'not a regular file'}; ${fix}`)]
  try {
    accessSync(path, constants.W_OK)
  } catch (err) {
    return [problem(OPTION.logFile.flag, path, `the debug log file ${path} is not writable: ${(err as Error).message}; ${fix}`)]
  }
  return []
}

/**
 * The archive directories, judged without touching the disk (the archive output creates them under its lock):
 * writable or creatable for fetch, existing for verify. Judged last, so they follow the problems they may stem from.
 */
export const directoriesUsable: Rule = (cfg, mode) => {
  if (cfg.stdout || syslogAlone(cfg)) return []
  return cfg.sources.flatMap((s) => {
    const flag = SOURCE_OPTIONS[s.name].dir.flag
    const why = checkDir(s.dir, `the ${s.name} directory (--${flag})`, mode !== 'fetch')
    return why === undefined ? [] : [problem(flag, s.dir, why)]
  })
}

/** --json shapes verify's and reconcile's report; the fetch job has --summary-json. */
export const jsonOnlyForVerify: Rule = (cfg, mode) => (cfg.json && mode === 'fetch' ? [problem(OPTION.json.flag, undefined, '--json is an option of verify and reconcile; a fetch run writes its summary with --summary-json (- for stdout)')] : [])

/** --dry-run belongs to reconcile; reconcile needs a range and writes to the archive only (its report goes to stdout). */
export const reconcileShape: Rule = (cfg, mode) => {
  if (mode !== 'reconcile') return cfg.dryRun && mode === 'fetch' ? [problem(OPTION.dryRun.flag, undefined, '--dry-run is an option of reconcile (y360-audit reconcile --since X --dry-run)')] : []
  const out: Problem[] = []
  if (cfg.since === undefined) out.push(problem(OPTION.since.flag, undefined, 'reconcile needs --since (the start of the range to ask the API for again; --until defaults to now)'))
  const refused: [string, boolean][] = [[OPTION.stdout.flag, cfg.stdout], [OPTION.syslog.flag, cfg.syslog !== undefined], [OPTION.watch.flag, cfg.watch], [OPTION.stateFile.flag, cfg.stateFile !== undefined], [OPTION.summaryJson.flag, cfg.summaryJson !== undefined], [OPTION.metricsFile.flag, cfg.metricsFile !== undefined]]
  for (const [flag, given] of refused) if (given) out.push(problem(flag, undefined, `--${flag} is not an option of reconcile, which compares the archive directories with the API (its report: stdout, --json)`))
  return out
}

/** The seal keys: an Ed25519 private key to sign with (fetch), a public key to check with (verify only). */
export const sealKeysUsable: Rule = (cfg, mode) => {
  if (mode !== 'verify' && cfg.sealPubkey !== undefined) return [problem(OPTION.sealPubkey.flag, cfg.sealPubkey, '--seal-pubkey is an option of verify; a fetch run signs with --seal-key')]
  if (mode !== 'verify' && cfg.sealHeads !== undefined) return [problem(OPTION.sealHeads.flag, undefined, '--seal-head is an option of verify')]
  if (mode !== 'verify' && cfg.sealKey !== undefined) {
    const r = loadSealKey(cfg.sealKey)
    return r.problem === undefined ? [] : [problem(OPTION.sealKey.flag, cfg.sealKey, r.problem)]
  }
  if (mode === 'verify' && cfg.sealPubkey !== undefined) {
    const r = loadSealPublicKey(cfg.sealPubkey)
    return r.problem === undefined ? [] : [problem(OPTION.sealPubkey.flag, cfg.sealPubkey, r.problem)]
  }
  return []
}

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
  // The debug log file is judged by logFileUsable (links and non-regular files too).
  const files: [string, string | undefined][] = [[OPTION.stateFile.flag, cfg.stateFile], [OPTION.summaryJson.flag, cfg.summaryJson], [OPTION.metricsFile.flag, cfg.metricsFile]]
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
export const RULES: readonly Rule[] = [someSource, filtersSupported, includeOrExcludeForEvents, sinceBeforeUntil, watchWithoutRange, stateFileNeedsStdout, syslogNotWithStdout, syslogCaNeedsTls, syslogBesideArchiveAppendsOnly, tagSourceNeedsStdout, timeoutAtLeast100ms, deadlineAtLeast100ms, jsonOnlyForVerify, reconcileShape, sealKeysUsable, stdoutTakenOnce, distinctFiles, outputFilesUsable, directoriesUsable, logFileUsable]

/** Event types the endpoints do not know yet are sent anyway (the vendor adds types), with a warning. */
export function unknownTypeWarnings(cfg: Config): string[] {
  return cfg.sources.flatMap((s) => {
    const ep = ENDPOINTS[s.name]
    if (!ep.filters.has('types')) return []
    return (cfg.filters.types ?? []).filter((t) => !ep.knownTypes.includes(t)).map((t) => `${s.name}: event type "${t}" is not in the known list; sending it anyway`)
  })
}
