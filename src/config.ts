/** Configuration: flags > environment > ./.env > defaults, validated once, every problem reported at once, frozen. */
import { existsSync, readFileSync, statSync } from 'node:fs'
import { isAbsolute, resolve } from 'node:path'
import { parseArgs, parseEnv } from 'node:util'
import { DateTime, IANAZone } from 'luxon'
import { Y360Error } from './errors.js'
import { OPTIONS, type OptionSpec } from './options.js'
import { checkDir } from './prepare.js'
import { EVENT_SERVICES } from './sources/catalog.js'
import { SOURCE_NAMES, type Filters, type SourceName } from './sources/descriptor.js'
import { ENDPOINTS } from './sources/index.js'
import { parseDuration, type Micros } from './time.js'

export interface SourceConfig {
  readonly name: SourceName
  /** Archive directory (absolute); '' in --stdout mode without one. */
  readonly dir: string
  readonly base: string
}

export interface Config {
  readonly token: string
  readonly org: number
  readonly apiUrl: string
  readonly cloudApiUrl: string
  readonly sources: readonly SourceConfig[]
  readonly ext: string
  readonly filters: Readonly<Filters>
  readonly overlapMs: number
  readonly lookbackMs: number
  readonly since: Micros | undefined
  readonly until: Micros | undefined
  readonly concurrency: number
  readonly maxRps: number
  readonly maxWaitMs: number
  readonly retries: number
  readonly retryDelayMs: number
  readonly timeoutMs: number
  readonly maxPages: number
  readonly stdout: boolean
  readonly tagSource: boolean
  readonly stateFile: string | undefined
  readonly lineFormat: 'compact' | 'seed'
  readonly timezone: string
  readonly watch: boolean
  readonly intervalMs: number
  readonly summaryJson: string | undefined
  readonly metricsFile: string | undefined
  readonly logFile: string | undefined
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error'
  readonly quiet: boolean
  readonly help: boolean
  readonly version: boolean
  /** Non-fatal remarks found while validating (unknown event types, a world-readable .env, created directories). */
  readonly warnings: readonly string[]
}

export interface ConfigInput {
  argv: string[]
  env: NodeJS.ProcessEnv
  cwd: string
  now: () => number
  /** verify reads archives only: do not create directories or require a token. */
  mode?: 'fetch' | 'verify'
}

type Raw = Record<string, string | boolean | undefined>

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i

/** Reads `.env` from the working directory (if any) and warns when others can read it (it holds the token). */
function readDotEnv(cwd: string, warnings: string[], problems: string[]): Record<string, string> {
  const path = resolve(cwd, '.env')
  if (!existsSync(path)) return {}
  try {
    const st = statSync(path)
    if ((st.mode & 0o044) !== 0) warnings.push(`${path} is readable by other users and holds the token; run: chmod 600 ${path}`)
    return parseEnv(readFileSync(path, 'utf8')) as Record<string, string>
  } catch (err) {
    problems.push(`cannot read ${path}: ${(err as Error).message}`)
    return {}
  }
}

/** Merges the layers: flags > environment > .env > defaults. */
function layer(argv: string[], env: NodeJS.ProcessEnv, dotenv: Record<string, string>, problems: string[]): { raw: Raw } {
  const options: Record<string, { type: 'string' | 'boolean' }> = {}
  for (const o of OPTIONS) options[o.flag] = { type: o.kind }
  const parsed = parseArgs({ args: argv, options, strict: false, allowPositionals: true, tokens: true })
  const known = new Set(OPTIONS.map((o) => o.flag))
  for (const tok of parsed.tokens ?? []) {
    if (tok.kind === 'option' && !known.has(tok.name)) problems.push(`unknown option ${tok.rawName}; see --help`)
    if (tok.kind === 'option' && known.has(tok.name)) {
      const spec = OPTIONS.find((o) => o.flag === tok.name) as OptionSpec
      if (spec.kind === 'string' && tok.value === undefined) problems.push(`${tok.rawName} needs a value`)
      if (spec.kind === 'boolean' && tok.inlineValue === true) problems.push(`${tok.rawName} takes no value`)
    }
    if (tok.kind === 'positional') problems.push(`unexpected argument "${tok.value}"; see --help`)
  }
  const raw: Raw = {}
  for (const o of OPTIONS) {
    const flagValue = parsed.values[o.flag]
    const envValue = o.env === undefined ? undefined : (env[o.env] ?? dotenv[o.env])
    const fallback = envValue !== undefined && envValue !== '' ? envValue : o.default
    if (flagValue !== undefined && typeof flagValue === (o.kind === 'boolean' ? 'boolean' : 'string')) {
      raw[o.flag] = flagValue as string | boolean
    } else {
      raw[o.flag] = fallback
    }
  }
  return { raw }
}

function str(raw: Raw, k: string): string | undefined {
  const v = raw[k]
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined
}

function list(v: string | undefined): string[] | undefined {
  if (v === undefined) return undefined
  const items = v.split(',').map((s) => s.trim()).filter((s) => s !== '')
  return items.length > 0 ? items : undefined
}

function intOption(raw: Raw, k: string, min: number, max: number, problems: string[]): number {
  const v = str(raw, k) ?? ''
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
    problems.push(`--${k} must be an integer from ${min} to ${max}, got "${v}"`)
    return min
  }
  return Number(v)
}

function durationOption(raw: Raw, k: string, problems: string[]): number {
  const v = str(raw, k) ?? ''
  const ms = parseDuration(v)
  if (ms === undefined) {
    problems.push(`--${k} must be a duration like 30s, 2m, 12h or 90d, got "${v}"`)
    return 0
  }
  return ms
}

/** Parses --since/--until: ISO instant or date (start of that day in `zone`), -7d / -12h, today, yesterday. */
export function parseTimePoint(text: string, zone: string, now: number): Micros | undefined {
  const t = text.trim()
  const local = DateTime.fromMillis(now, { zone })
  if (t === 'now') return now * 1000
  if (t === 'today') return local.startOf('day').toMillis() * 1000
  if (t === 'yesterday') return local.minus({ days: 1 }).startOf('day').toMillis() * 1000
  const rel = /^-(.+)$/.exec(t)
  if (rel !== null) {
    const ms = parseDuration(rel[1])
    return ms === undefined ? undefined : (now - ms) * 1000
  }
  const dt = DateTime.fromISO(t, { zone, setZone: false })
  if (!dt.isValid) return undefined
  const frac = /\.(\d{4,6})/.exec(t) // luxon keeps ms; keep µs when given
  const extraUs = frac === null ? 0 : Number(frac[1].padEnd(6, '0').slice(3, 6))
  return dt.toMillis() * 1000 + extraUs
}

function checkUrl(raw: Raw, k: string, problems: string[]): string {
  const v = str(raw, k) ?? ''
  let url: URL
  try {
    url = new URL(v)
  } catch {
    problems.push(`--${k} is not a URL: "${v}"`)
    return v
  }
  if (url.username !== '' || url.password !== '') problems.push(`--${k} must not contain credentials`)
  if (url.protocol === 'http:' && !LOOPBACK.test(url.hostname)) problems.push(`--${k} must use https: (plain http: is allowed only for loopback addresses), got ${url.origin}`)
  else if (url.protocol !== 'https:' && url.protocol !== 'http:') problems.push(`--${k} must be an https: URL, got ${url.protocol}`)
  return url.origin + url.pathname.replace(/\/+$/, '')
}

function checkName(value: string, what: string, problems: string[]): void {
  if (value === '' || /[/\\\0]/.test(value) || value.includes('..')) {
    problems.push(`${what} "${value.replace(/\0/g, '\\0')}" must be a plain file name part (no /, \\, .. or NUL)`)
  }
}

const DIR_FLAG: Record<SourceName, string> = { mail: 'mail-dir', disk: 'disk-dir', events: 'events-dir' }
const BASE_FLAG: Record<SourceName, string> = { mail: 'mail-base', disk: 'disk-base', events: 'events-base' }
const FILTER_FLAG: Record<keyof Filters, string> = { types: '--types', includeUids: '--include-uids', excludeUids: '--exclude-uids', ip: '--ip', service: '--service' }

/** Builds the frozen Config or throws CONFIG_INVALID listing every problem. */
export function loadConfig(input: ConfigInput): Config {
  const problems: string[] = []
  const warnings: string[] = []
  const mode = input.mode ?? 'fetch'
  const dotenv = readDotEnv(input.cwd, warnings, problems)
  const { raw } = layer(input.argv, input.env, dotenv, problems)
  const help = raw.help === true
  const version = raw.version === true
  const stdout = raw.stdout === true

  const token = str(raw, 'token') ?? ''
  if (mode === 'fetch' && token === '') problems.push('no OAuth token: set OAUTH_TOKEN_ARG (environment or .env) or pass --token')
  const orgText = str(raw, 'org') ?? ''
  let org = 0
  if (mode === 'fetch') {
    if (orgText === '') problems.push('no organisation id: set ORGANIZATION_ID_ARG (environment or .env) or pass --org')
    else if (!/^\d+$/.test(orgText) || !Number.isSafeInteger(Number(orgText)) || Number(orgText) <= 0) problems.push(`the organisation id must be a positive integer, got "${orgText}" (ORGANIZATION_ID_ARG / --org)`)
    else org = Number(orgText)
  }

  const ext = str(raw, 'ext') ?? 'json'
  checkName(ext, 'the file extension (LOG_FILE_EXTENSION / --ext)', problems)

  // Sources: those with a directory, narrowed by --sources; in --stdout mode --sources alone is enough.
  const wanted = list(str(raw, 'sources'))
  for (const w of wanted ?? []) if (!SOURCE_NAMES.includes(w as SourceName)) problems.push(`--sources: unknown source "${w}" (known: ${SOURCE_NAMES.join(', ')})`)
  const sources: SourceConfig[] = []
  const dirsToPrepare: [string, string][] = []
  for (const name of SOURCE_NAMES) {
    const dirText = str(raw, DIR_FLAG[name])
    const base = str(raw, BASE_FLAG[name]) ?? ''
    if (wanted !== undefined && !wanted.includes(name)) continue
    if (dirText === undefined) {
      if (wanted !== undefined && !stdout) problems.push(`--sources names ${name} but its directory is not set: set ${OPTIONS.find((o) => o.flag === DIR_FLAG[name])?.env} or --${DIR_FLAG[name]}`)
      if (!(stdout && wanted !== undefined)) continue
    }
    checkName(base, `the ${name} base name (--${BASE_FLAG[name]})`, problems)
    const dir = dirText === undefined ? '' : resolve(input.cwd, dirText.replace(/[/\\]+$/, '') || '/')
    // Directories are created only once everything else is valid: a rejected configuration leaves no trace on disk.
    if (dirText !== undefined && !stdout) dirsToPrepare.push([dir, `the ${name} directory (--${DIR_FLAG[name]})`])
    sources.push({ name, dir, base })
  }
  if (sources.length === 0 && !help && !version) {
    problems.push(stdout ? 'no source to run: pass --sources mail,disk,events' : 'no source to run: set at least one of MAIL_LOG_CATALOG_LOCATION, DISK_LOG_CATALOG_LOCATION, NEW_LOG_CATALOG_LOCATION (or --mail-dir, --disk-dir, --events-dir)')
  }

  // Filters, mapped per endpoint later; refused where an endpoint cannot apply them.
  const filters: Filters = {}
  const types = list(str(raw, 'types'))
  if (types) filters.types = types
  const inc = list(str(raw, 'include-uids'))
  if (inc) filters.includeUids = inc
  const exc = list(str(raw, 'exclude-uids'))
  if (exc) filters.excludeUids = exc
  const ip = str(raw, 'ip')
  if (ip !== undefined) {
    if (ip.includes(',')) problems.push(`--ip takes one address, got "${ip}"`)
    filters.ip = ip
  }
  const service = str(raw, 'service')
  if (service !== undefined) {
    if (!(EVENT_SERVICES as readonly string[]).includes(service)) problems.push(`--service must be one of ${EVENT_SERVICES.join(', ')}, got "${service}"`)
    filters.service = service
  }
  const filterNames = Object.keys(filters) as (keyof Filters)[]
  for (const s of sources) {
    const ep = ENDPOINTS[s.name]
    for (const f of filterNames) if (!ep.filters.has(f)) problems.push(`${FILTER_FLAG[f]} is not supported by the ${s.name} source; narrow the run with --sources`)
    if (s.name === 'events' && inc && exc) problems.push('--include-uids and --exclude-uids cannot be combined for the events source')
    for (const t of filters.types ?? []) if (ep.filters.has('types') && !ep.knownTypes.includes(t)) warnings.push(`${s.name}: event type "${t}" is not in the known list; sending it anyway`)
  }

  const timezone = str(raw, 'timezone') ?? 'UTC'
  if (!IANAZone.isValidZone(timezone)) problems.push(`--timezone must be an IANA zone like Europe/Moscow, got "${timezone}"`)
  const zone = IANAZone.isValidZone(timezone) ? timezone : 'UTC'
  const now = input.now()
  const timeOpt = (k: string): Micros | undefined => {
    const v = str(raw, k)
    if (v === undefined) return undefined
    const us = parseTimePoint(v, zone, now)
    if (us === undefined) problems.push(`--${k} must be an ISO date or instant, -7d / -12h, today or yesterday, got "${v}"`)
    return us
  }
  const since = timeOpt('since')
  const until = timeOpt('until')
  if (since !== undefined && until !== undefined && since >= until) problems.push('--since must be before --until')
  if (raw.watch === true && (since !== undefined || until !== undefined)) problems.push('--watch cannot be combined with --since/--until: every cycle would fetch the same range again; run the backfill once, then watch')

  const lineFormat = str(raw, 'line-format') ?? 'compact'
  if (lineFormat !== 'compact' && lineFormat !== 'seed') problems.push(`--line-format must be compact or seed, got "${lineFormat}"`)
  const logLevel = str(raw, 'log-level') ?? 'info'
  if (!['debug', 'info', 'warn', 'error'].includes(logLevel)) problems.push(`--log-level must be debug, info, warn or error, got "${logLevel}"`)

  const stateFile = str(raw, 'state-file')
  if (stateFile !== undefined && !stdout) problems.push('--state-file needs --stdout (the archive is the checkpoint of a file run)')
  if (raw['tag-source'] === true && !stdout) problems.push('--tag-source needs --stdout')
  const logFileText = raw['no-log-file'] === true ? undefined : str(raw, 'log-file')
  const abs = (p: string | undefined): string | undefined => (p === undefined ? undefined : isAbsolute(p) ? p : resolve(input.cwd, p))

  const cfg: Config = {
    token,
    org,
    apiUrl: checkUrl(raw, 'api-url', problems),
    cloudApiUrl: checkUrl(raw, 'cloud-api-url', problems),
    sources,
    ext,
    filters,
    overlapMs: durationOption(raw, 'overlap', problems),
    lookbackMs: durationOption(raw, 'lookback', problems),
    since,
    until,
    concurrency: intOption(raw, 'concurrency', 1, 32, problems),
    maxRps: intOption(raw, 'max-rps', 0, 10_000, problems),
    maxWaitMs: durationOption(raw, 'max-wait', problems),
    retries: intOption(raw, 'retries', 0, 100, problems),
    retryDelayMs: durationOption(raw, 'retry-delay', problems),
    timeoutMs: durationOption(raw, 'timeout', problems),
    maxPages: intOption(raw, 'max-pages', 1, 10_000, problems),
    stdout,
    tagSource: raw['tag-source'] === true,
    stateFile: abs(stateFile),
    lineFormat: lineFormat === 'seed' ? 'seed' : 'compact',
    timezone: zone,
    watch: raw.watch === true,
    intervalMs: durationOption(raw, 'interval', problems),
    summaryJson: abs(str(raw, 'summary-json')),
    metricsFile: abs(str(raw, 'metrics-file')),
    logFile: abs(logFileText),
    logLevel: logLevel as Config['logLevel'],
    quiet: raw.quiet === true,
    help,
    version,
    warnings,
  }
  if (cfg.timeoutMs < 100 && problems.length === 0) problems.push('--timeout must be at least 100ms')
  // Judged without touching the disk: the archive output creates the directories (and checks the marks) under its lock.
  if (!help && !version) for (const [dir, what] of dirsToPrepare) {
    const problem = checkDir(dir, what, mode !== 'fetch')
    if (problem !== undefined) problems.push(problem)
  }
  if (problems.length > 0 && !help && !version) {
    // A value echoed in a message may be the token pasted into the wrong variable: never print it.
    const safe = token.length >= 4 ? problems.map((p) => p.split(token).join('[REDACTED]')) : problems
    throw new Y360Error('CONFIG_INVALID', `configuration problems:\n${safe.map((p) => `  - ${p}`).join('\n')}`, { problems: safe })
  }
  return Object.freeze({ ...cfg, sources: Object.freeze(sources.map((s) => Object.freeze(s))), filters: Object.freeze(filters), warnings: Object.freeze(warnings) })
}
