/**
 * Configuration: layer (flags > environment > ./.env > defaults) → parse each option's row → cross-field rules →
 * freeze. Every problem of every stage is collected and reported at once; nothing is written to disk.
 */
import { OPTION, OPTIONS } from './config/options.js'
import { parseTimePoint } from './config/parse.js'
import { configError, scrub, type Problem } from './config/problem.js'
import { layer } from './config/layer.js'
import { filtersOf, RULES, selectSources, unknownTypeWarnings } from './config/rules.js'
import { resolveToken } from './config/token.js'
import type { Config, ConfigInput, SourceConfig } from './config/types.js'
import { parseAll, quietValue, type Values } from './config/values.js'

export type { Config, ConfigInput, SourceConfig, Problem }
export { parseTimePoint }

/** The Config the parsed values describe (before the cross-field rules judge it). */
function assemble(v: Values, token: string | undefined, sources: SourceConfig[], warnings: readonly string[]): Config {
  const { token: _given, tokenFile: _file, org, sourceNames: _narrowing, types: _t, includeUids: _i, excludeUids: _e, ip: _ip, service: _s, logFile, noLogFile, noSeal, requestDeadlineMs, ...plain } = v.all(OPTION)
  return { ...plain, token: token ?? '', org: org ?? 0, sources, filters: filtersOf(v), logFile: noLogFile ? undefined : logFile, seal: !noSeal, requestDeadlineMs: requestDeadlineMs ?? 3 * plain.timeoutMs, warnings }
}

/** Deeply frozen: no stage can change what another stage reads. */
function freeze(cfg: Config): Config {
  return Object.freeze({ ...cfg, sources: Object.freeze(cfg.sources.map((s) => Object.freeze(s))), filters: Object.freeze(cfg.filters), warnings: Object.freeze(cfg.warnings) })
}

/** Every stage without throwing: the configuration the options describe and every problem with it (token scrubbed). */
export function readConfig(input: ConfigInput): { config: Config; problems: Problem[] } {
  const mode = input.mode ?? 'fetch'
  const layered = layer(OPTIONS, input.argv, input.env, input.cwd)
  const base = { cwd: input.cwd, now: input.now(), zone: 'UTC' }
  // --since/--until are read in the files' zone, so that one is needed first (its own problem is reported below).
  const ctx = { ...base, zone: quietValue(OPTION.timezone, layered.raw, base, mode) }
  const parsed = parseAll(OPTIONS, layered.raw, ctx, mode)
  const picked = selectSources(parsed.values)
  const token = resolveToken(parsed.values.get(OPTION.token), parsed.values.get(OPTION.tokenFile), input.env, mode !== 'verify')
  const draft = assemble(parsed.values, token.token, picked.sources, [...layered.warnings, ...token.warnings])
  const cfg: Config = { ...draft, warnings: [...draft.warnings, ...unknownTypeWarnings(draft)] }
  // The token's problems stand where its row's would (it is the first option).
  const problems = [...layered.problems, ...token.problems, ...parsed.problems, ...picked.problems, ...RULES.flatMap((rule) => rule(cfg, mode))]
  return { config: freeze(cfg), problems: scrub(problems, cfg.token) }
}

/** Builds the frozen Config or throws CONFIG_INVALID listing every problem (never the token); --help and --version always load. */
export function loadConfig(input: ConfigInput): Config {
  const { config, problems } = readConfig(input)
  if (problems.length > 0 && !config.help && !config.version) throw configError(problems)
  return config
}
