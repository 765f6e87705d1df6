/**
 * Configuration: layer (flags > environment > ./.env > defaults) → parse each option's row → cross-field rules →
 * freeze. Every problem of every stage is collected and reported at once; nothing is written to disk.
 */
import { OPTION, OPTIONS } from './config/options.js'
import { parseTimePoint } from './config/parse.js'
import { configError, scrub, type Problem } from './config/problem.js'
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { readConfigFile } from './config/file.js'
import { flagLayer, layer, type Raw } from './config/layer.js'
import { distinctDirs, distinctNames, orgLayers, orgWarnings, perOrgFlags, placeProblems } from './config/plan.js'
import { filtersOf, RULES, selectSources, unknownTypeWarnings } from './config/rules.js'
import { resolveToken, type TokenResult } from './config/token.js'
import type { Config, ConfigInput, SourceConfig } from './config/types.js'
import { parseAll, quietValue, type CwdOf, type Values } from './config/values.js'

export type { Config, ConfigInput, SourceConfig, Problem }
export { parseTimePoint }

/** The Config the parsed values describe (before the cross-field rules judge it). */
function assemble(v: Values, token: TokenResult, sources: SourceConfig[], warnings: readonly string[]): Config {
  const { token: _given, tokenFile: _file, org, sourceNames: _narrowing, types: _t, includeUids: _i, excludeUids: _e, ip: _ip, service: _s, logFile, noLogFile, noSeal, requestDeadlineMs, ...plain } = v.all(OPTION)
  return { ...plain, token: token.token ?? '', tokenFrom: token.from, org: org ?? 0, sources, filters: filtersOf(v), logFile: noLogFile ? undefined : logFile, seal: !noSeal, requestDeadlineMs: requestDeadlineMs ?? 3 * plain.timeoutMs, warnings }
}

/** Deeply frozen: no stage can change what another stage reads. */
function freeze(cfg: Config): Config {
  return Object.freeze({ ...cfg, sources: Object.freeze(cfg.sources.map((s) => Object.freeze(s))), filters: Object.freeze(cfg.filters), warnings: Object.freeze(cfg.warnings) })
}

/** What judging one organisation's layered text gives: its configuration, and its problems by stage. */
export interface Judged {
  readonly config: Config
  /** Of single values: the token (it is the first option) and every row's parser. */
  readonly valueProblems: Problem[]
  /** Of the assembled configuration: which sources run, and the cross-field rules. */
  readonly ruleProblems: Problem[]
}

/** Parses the layered text of every row, assembles the Config and judges it (nothing thrown, token not yet scrubbed). */
export function judge(raw: Raw, input: ConfigInput, cwdOf?: CwdOf): Judged {
  const mode = input.mode ?? 'fetch'
  const base = { cwd: input.cwd, now: input.now(), zone: 'UTC' }
  // --since/--until are read in the files' zone, so that one is needed first (its own problem is reported below).
  const ctx = { ...base, zone: quietValue(OPTION.timezone, raw, base, mode) }
  const parsed = parseAll(OPTIONS, raw, ctx, mode, cwdOf)
  const picked = selectSources(parsed.values)
  const token = resolveToken(parsed.values.get(OPTION.token), parsed.values.get(OPTION.tokenFile), input.env, mode !== 'verify')
  const draft = assemble(parsed.values, token, picked.sources, token.warnings)
  const cfg: Config = { ...draft, warnings: [...draft.warnings, ...unknownTypeWarnings(draft)] }
  return { config: cfg, valueProblems: [...token.problems, ...parsed.problems], ruleProblems: [...picked.problems, ...RULES.flatMap((rule) => rule(cfg, mode))] }
}

/** Every stage without throwing: the configuration the options describe and every problem with it (token scrubbed). */
export function readConfig(input: ConfigInput, layered = layer(OPTIONS, input.argv, input.env, input.cwd)): { config: Config; problems: Problem[] } {
  const j = judge(layered.raw, input)
  const cfg = { ...j.config, warnings: [...layered.warnings, ...j.config.warnings] }
  const problems = [...layered.problems, ...j.valueProblems, ...j.ruleProblems]
  return { config: freeze(cfg), problems: scrub(problems, cfg.token) }
}

/** Builds the frozen Config or throws CONFIG_INVALID listing every problem (never the token); --help and --version always load. */
export function loadConfig(input: ConfigInput): Config {
  const { config, problems } = readConfig(input)
  if (problems.length > 0 && !config.help && !config.version) throw configError(problems)
  return config
}

/** One organisation of a run: its place in the config file (`orgs[2]`, '' without one), its name, its configuration. */
export interface OrgPlan {
  readonly where: string
  /** Labels its summary, metrics and log lines: the entry's "name", else its organisation id. */
  readonly name: string
  readonly config: Config
}

/** What a command runs: one organisation (no --config), or every organisation of the config file. */
export interface Plan {
  /** The config file (absolute), undefined without --config. */
  readonly file: string | undefined
  readonly orgs: readonly OrgPlan[]
  /** The settings of the whole process (log, summary, metrics, --watch, --max-rps): the same in every organisation's. */
  readonly process: Config
  readonly warnings: readonly string[]
}

/** The whole config file judged: every organisation's configuration, and every problem placed in its entry. */
function readFilePlan(input: ConfigInput, path: string): { plan: Plan; problems: Problem[] } {
  const mode = input.mode ?? 'fetch'
  const cli = flagLayer(OPTIONS, input.argv)
  const flags = cli.given
  const file = readConfigFile(path, OPTIONS)
  const problems: Problem[] = [...cli.problems, ...perOrgFlags(flags), ...file.problems]
  const said: { where: string; warnings: readonly string[] }[] = []
  // Only the systemd credential directory is read from the environment (a token shared by every organisation).
  const env = { CREDENTIALS_DIRECTORY: input.env.CREDENTIALS_DIRECTORY }
  const orgs = file.orgs.map((entry) => {
    const layers = orgLayers(OPTIONS, flags, file, entry)
    const j = judge(layers.raw, { ...input, env, mode }, layers.cwdOf)
    problems.push(...placeProblems(layers, entry.where, j.valueProblems, j.ruleProblems))
    said.push({ where: entry.where, warnings: j.config.warnings })
    // The id from the entry's text: verify does not read the organisation into its configuration.
    const id = OPTION.org.parse(String(layers.raw.get(OPTION.org.flag) ?? '').trim(), { flag: OPTION.org.flag, cwd: input.cwd, now: 0, zone: 'UTC' })
    const name = entry.name ?? (id.ok && id.value !== undefined ? String(id.value) : entry.where)
    return { where: entry.where, name, config: freeze({ ...j.config, warnings: [] }) }
  })
  problems.push(...distinctNames(orgs), ...(mode === 'fetch' || mode === 'reconcile' ? distinctDirs(orgs) : []))
  const warnings = orgWarnings(said)
  const ignored = OPTIONS.flatMap((o) => (o.env !== undefined && o !== OPTION.config && (input.env[o.env] ?? '') !== '' ? [o.env] : []))
  if (ignored.length > 0) warnings.unshift(`with --config the environment is not read for options: ignoring ${ignored.join(', ')} (set them in ${path})`)
  if (existsSync(resolve(input.cwd, '.env'))) warnings.unshift(`with --config ./.env is read for ${OPTION.config.env} only: set the options in ${path}`)
  const whole = orgs[0]?.config ?? readConfig(input).config
  // Any organisation's token is scrubbed from every problem (one may be pasted into another's entry).
  const clean = orgs.reduce((ps, o) => scrub(ps, o.config.token), [...new Map(problems.map((p) => [p.message, p])).values()])
  return { plan: { file: path, orgs, process: whole, warnings: [...new Set(warnings)] }, problems: clean }
}

/** Every organisation a command runs and every problem (nothing thrown): the config file's, else the one of the options. */
export function readPlan(input: ConfigInput): { plan: Plan; problems: Problem[] } {
  const layered = layer(OPTIONS, input.argv, input.env, input.cwd)
  const text = layered.raw.get(OPTION.config.flag)
  const path = typeof text === 'string' && text.trim() !== '' ? (OPTION.config.parse(text.trim(), { flag: OPTION.config.flag, cwd: input.cwd, now: 0, zone: 'UTC' }) as { ok: true; value: string }).value : undefined
  if (path === undefined || layered.raw.get(OPTION.help.flag) === true || layered.raw.get(OPTION.version.flag) === true) {
    const { config, problems } = readConfig(input, layered) // the layers just read (argv, environment, ./.env), once
    return { plan: { file: undefined, orgs: [{ where: '', name: String(config.org), config }], process: config, warnings: config.warnings }, problems }
  }
  return readFilePlan(input, path)
}

/** The Plan, or CONFIG_INVALID listing every problem of every organisation (never a token); --help and --version always load. */
export function loadPlan(input: ConfigInput): Plan {
  const { plan, problems } = readPlan(input)
  if (problems.length > 0 && !plan.process.help && !plan.process.version) throw configError(problems)
  return plan
}
