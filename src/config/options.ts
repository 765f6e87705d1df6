/**
 * Every option of the fetch job as data, one row each: flag, environment variable, default, help and the parser of its
 * value. `loadConfig`, `--help` and the README's options table all come from these rows.
 */
import { EXIT_SEVERITY } from '../errors.js'
import { EVENT_SERVICES } from '../sources/catalog.js'
import { SOURCE_NAMES, type FilterName, type SourceName } from '../sources/descriptor.js'
import { FACILITIES, SEVERITIES, type Facility, type Severity } from '../sinks/rfc5424.js'
import { byteSize, directory, duration, sealHeads, fileNamePart, fileOrStdout, int, oneOf, optional, path, positiveInt, single, subsetOf, list, syslogUrl, text, timePoint, url, zone, type Parser } from './parse.js'

/** Whether an option takes a value or is a switch. */
export type OptionKind = 'string' | 'boolean'

interface Row {
  readonly flag: string
  readonly env?: string
  /** Shown in --help; the text parsed when nothing else is given (undefined = unset). */
  readonly default?: string
  readonly help: string
  /** One-letter alias (`-h`). */
  readonly short?: string
}

/** An option with a value, read by `parse` (trimmed text in, value or messages out). */
export interface StringOption<T> extends Row {
  readonly kind: 'string'
  readonly parse: Parser<T>
  /** Read by the fetch command only: `verify` neither parses nor requires it. */
  readonly fetchOnly?: boolean
  /** The problem when the fetch command runs without it. */
  readonly required?: string
}

/** A switch: present or not, never from the environment. */
export interface BooleanOption extends Row {
  readonly kind: 'boolean'
}

/** Any option row. */
export type OptionSpec = StringOption<unknown> | BooleanOption

/** The value an option's row yields. */
export type ValueOf<O> = O extends StringOption<infer T> ? T : O extends BooleanOption ? boolean : never
/** The values of a keyed table of rows, under the same keys. */
export type ValuesOf<R extends Record<string, OptionSpec>> = { -readonly [K in keyof R]: ValueOf<R[K]> }

const opt = <T>(row: Omit<StringOption<T>, 'kind'>): StringOption<T> => ({ kind: 'string', ...row })
const flag = (row: Omit<BooleanOption, 'kind'>): BooleanOption => ({ kind: 'boolean', ...row })

/** What differs between the sources' option rows; the `--<source>-dir` and `--<source>-base` rows are generated from it. */
interface SourceRow {
  /** How help text names the source's archive ("the unified-log archive"). */
  readonly label: string
  /** The Python script's variables. */
  readonly dirEnv: string
  readonly baseEnv: string
  readonly base: string
}

const SOURCE_ROWS: Readonly<Record<SourceName, SourceRow>> = {
  mail: { label: 'mail', dirEnv: 'MAIL_LOG_CATALOG_LOCATION', baseEnv: 'MAIL_LOG_FILE_BASE_NAME', base: 'mail_audit' },
  disk: { label: 'disk', dirEnv: 'DISK_LOG_CATALOG_LOCATION', baseEnv: 'DISK_LOG_FILE_BASE_NAME', base: 'disk_audit' },
  events: { label: 'unified-log', dirEnv: 'NEW_LOG_CATALOG_LOCATION', baseEnv: 'NEW_LOG_FILE_BASE_NAME', base: 'y360_audit' },
}

/** The two rows of one source: its archive directory (the source runs when set) and the base name of its files. */
export interface SourceOptions {
  readonly dir: StringOption<string | undefined>
  readonly base: StringOption<string>
}

function sourceOptions(name: SourceName, first: boolean): SourceOptions {
  const s = SOURCE_ROWS[name]
  return {
    dir: opt({ flag: `${name}-dir`, env: s.dirEnv, parse: optional(directory()), help: `directory of the ${s.label} archive; the ${name} source runs when set` }),
    // The file-name pattern is spelled out once, on the first of these rows.
    base: opt({ flag: `${name}-base`, env: s.baseEnv, default: s.base, parse: fileNamePart(`the ${name} base name (--${name}-base)`), help: `base name of ${s.label} files${first ? ': <base>_<YYYY-MM-DD>.<ext>' : ''}` }),
  }
}

/** Each source's two rows, generated from SOURCE_ROWS. */
export const SOURCE_OPTIONS: Readonly<Record<SourceName, SourceOptions>> = Object.fromEntries(SOURCE_NAMES.map((n, i) => [n, sourceOptions(n, i === 0)])) as Record<SourceName, SourceOptions>

/** The options shared by all sources, keyed by the Config field they fill (filters by their Filters name). */
export const OPTION = {
  // Required for fetch, from here or a file: src/config/token.ts judges the pair.
  token: opt({ flag: 'token', env: 'OAUTH_TOKEN_ARG', parse: optional(text()), help: 'OAuth token with the audit-log scopes (this or --token-file is required); on the command line it is visible to every user (/proc/<pid>/cmdline): prefer --token-file' }),
  tokenFile: opt({ flag: 'token-file', env: 'Y360_TOKEN_FILE', parse: optional(path()), fetchOnly: true, help: 'file holding the OAuth token (one trailing newline trimmed; warns when others can read it); without a token or this, systemd\'s $CREDENTIALS_DIRECTORY/y360-token (LoadCredential=y360-token:FILE) is read' }),
  org: opt({ flag: 'org', env: 'ORGANIZATION_ID_ARG', parse: optional(positiveInt('the organisation id', 'ORGANIZATION_ID_ARG / --org')), fetchOnly: true, required: 'no organisation id: set ORGANIZATION_ID_ARG (environment or .env) or pass --org', help: 'organisation id, an integer (required)' }),
  ext: opt({ flag: 'ext', env: 'LOG_FILE_EXTENSION', default: 'json', parse: fileNamePart('the file extension (LOG_FILE_EXTENSION / --ext)'), help: 'extension of the archive files' }),
  // Several organisations in one process (issue 17): src/config/file.ts reads the file, src/config.ts#readPlan layers it.
  config: opt({ flag: 'config', env: 'Y360_CONFIG', parse: optional(path()), help: 'JSON file of several organisations: {<defaults>, "orgs": [{"org": 1, "token-file": "…", "mail-dir": "…"}, …]}, keys the long option names; each entry overrides the defaults, flags override both, the environment and ./.env are not read (README "Many organisations")' }),
  sourceNames: opt({ flag: 'sources', env: 'Y360_SOURCES', parse: subsetOf(SOURCE_NAMES, 'source'), help: 'comma list narrowing the sources to run (mail,disk,events); default: every source whose directory is set' }),
  apiUrl: opt({ flag: 'api-url', env: 'Y360_API_URL', default: 'https://api360.yandex.net', parse: url(), help: 'base URL of the mail/disk API (http: only for loopback)' }),
  cloudApiUrl: opt({ flag: 'cloud-api-url', env: 'Y360_CLOUD_API_URL', default: 'https://cloud-api.yandex.net', parse: url(), help: 'base URL of the unified-log API (http: only for loopback)' }),
  overlapMs: opt({ flag: 'overlap', env: 'Y360_OVERLAP', default: '2m', parse: duration(), help: 'how far before the newest archived record each run asks again (late arrivals); duplicates are dropped' }),
  maxSkewMs: opt({ flag: 'max-skew', env: 'Y360_MAX_SKEW', default: '5m', parse: duration(), help: 'clock skew allowed between the API, the archive and this host: records stamped later than now + this are rejected (.rejected), archive records and day files after it are ignored for the resume point (both counted as anomalies, exit 8)' }),
  lookbackMs: opt({ flag: 'lookback', env: 'Y360_LOOKBACK', default: '90d', parse: duration(), help: 'first run (empty archive): how much history to fetch' }),
  since: opt({ flag: 'since', env: 'Y360_SINCE', parse: optional(timePoint()), help: 'backfill from here, inclusive: ISO instant or date (midnight in --timezone), -7d, -12h, today, yesterday; affected day files are merged (temp file + rename), no duplicates (default: resume point, or now - lookback)' }),
  until: opt({ flag: 'until', env: 'Y360_UNTIL', parse: optional(timePoint()), help: 'end of the range, exclusive (same forms as --since; default: now); not with --watch' }),
  types: opt({ flag: 'types', env: 'Y360_TYPES', parse: list(), help: 'only these event types, comma-separated (mail, events)' }),
  includeUids: opt({ flag: 'include-uids', env: 'Y360_INCLUDE_UIDS', parse: list(), help: 'only these user UIDs, comma-separated' }),
  excludeUids: opt({ flag: 'exclude-uids', env: 'Y360_EXCLUDE_UIDS', parse: list(), help: 'all but these user UIDs, comma-separated' }),
  ip: opt({ flag: 'ip', env: 'Y360_IP', parse: optional(single('address')), help: 'only events from this IP (events only)' }),
  service: opt({ flag: 'service', env: 'Y360_SERVICE', parse: optional(oneOf(EVENT_SERVICES, `one of ${EVENT_SERVICES.join(', ')}`)), help: `only events of this service: ${EVENT_SERVICES.join(', ')} (events only)` }),
  concurrency: opt({ flag: 'concurrency', env: 'Y360_CONCURRENCY', default: '8', parse: int(1, 32), help: 'time windows fetched at once per source (written strictly in time order)' }),
  // No variable: with --config the environment is not read for options.
  orgConcurrency: opt({ flag: 'org-concurrency', default: '4', parse: int(1, 64), help: 'with --config: organisations fetched at once; all of them share one request pacing (and --max-rps) per API host' }),
  maxRps: opt({ flag: 'max-rps', env: 'Y360_MAX_RPS', default: '0', parse: int(0, 10_000), help: 'requests per second per API host, shared by all sources (0 = unlimited)' }),
  maxWaitMs: opt({ flag: 'max-wait', env: 'Y360_MAX_WAIT', default: '5m', parse: duration(), help: 'longest total wait a 429 Retry-After may impose on a request; beyond it the run stops with exit 75' }),
  retries: opt({ flag: 'retries', env: 'Y360_RETRIES', default: '6', parse: int(0, 100), help: 'retries of a failing request (5xx, resets, timeouts, invalid JSON)' }),
  retryDelayMs: opt({ flag: 'retry-delay', env: 'Y360_RETRY_DELAY', default: '1s', parse: duration(), help: 'first retry delay; doubles each retry (with jitter), at most 30s' }),
  timeoutMs: opt({ flag: 'timeout', env: 'Y360_TIMEOUT', default: '60s', parse: duration(), help: 'timeout for response headers and for body inactivity' }),
  requestDeadlineMs: opt({ flag: 'request-deadline', env: 'Y360_REQUEST_DEADLINE', parse: optional(duration()), help: 'longest time one request may take, headers and body, whatever the server sends meanwhile (102 Processing, a dripping body); default 3 × --timeout' }),
  maxBodyBytes: opt({ flag: 'max-body', env: 'Y360_MAX_BODY', default: '32MiB', parse: byteSize(), help: 'largest response body read per page (a page of 100 records is well under 1 MiB); a larger one stops the run (exit 4)' }),
  maxPages: opt({ flag: 'max-pages', env: 'Y360_MAX_PAGES', default: '10', parse: int(1, 10_000), help: 'pages per time window before it is cut (its pages kept, the older part fetched as windows of its own)' }),
  stateFile: opt({ flag: 'state-file', env: 'Y360_STATE_FILE', parse: optional(path()), help: 'with --stdout (or --syslog without directories): JSON cursor (resume instant + overlap keys per source) making runs incremental; saved atomically (0600) at the end of a run and covering only what stdout accepted; left as it was when the reader goes away or on a signal (those records come again)' }),
  lockStaleMs: opt({ flag: 'lock-stale', env: 'Y360_LOCK_STALE', default: '2m', parse: duration(), help: 'a run refreshes its lock every quarter of this; a lock not refreshed for longer is taken over, whatever host wrote it (a killed pod, a lost container)' }),
  stdout: flag({ flag: 'stdout', help: 'write NDJSON records to stdout instead of the archive (stdout carries records only; logs stay on stderr); a reader that leaves (| head) ends the run with exit 0' }),
  tagSource: flag({ flag: 'tag-source', help: 'with --stdout: add "_source":"<name>" to each record' }),
  // Syslog delivery (issue 17): alone (no archive directories, --sources, --state-file as with --stdout) or beside the archive.
  syslog: opt({ flag: 'syslog', env: 'Y360_SYSLOG', parse: optional(syslogUrl()), fetchOnly: true, help: 'deliver every record as an RFC 5424 message (octet-counted) to tcp://host:port or tls://host:port (udp:// is refused); without archive directories it replaces them (--sources, --state-file), beside them it forwards from the day files with its own cursor' }),
  syslogCa: opt({ flag: 'syslog-ca', env: 'Y360_SYSLOG_CA', parse: optional(path()), fetchOnly: true, help: 'with --syslog tls://: PEM file of the CA(s) that sign the receiver\'s certificate (default: the system\'s); the certificate and host name are always checked' }),
  syslogFacility: opt({ flag: 'syslog-facility', env: 'Y360_SYSLOG_FACILITY', default: 'local0', parse: oneOf(Object.keys(FACILITIES) as Facility[], 'a facility name (local0 … local7, auth, authpriv, audit, user, …)'), fetchOnly: true, help: 'syslog facility of the messages' }),
  syslogSeverity: opt({ flag: 'syslog-severity', env: 'Y360_SYSLOG_SEVERITY', default: 'info', parse: oneOf(Object.keys(SEVERITIES) as Severity[]), fetchOnly: true, help: 'syslog severity of the messages' }),
  syslogAckEvery: opt({ flag: 'syslog-ack-every', env: 'Y360_SYSLOG_ACK_EVERY', default: '1000', parse: int(1, 1_000_000), fetchOnly: true, help: 'records sent on one connection before it is closed cleanly, which acknowledges them; after a drop at most this many (and at most 8 MiB) are sent again' }),
  syslogRetries: opt({ flag: 'syslog-retries', env: 'Y360_SYSLOG_RETRIES', default: '8', parse: int(0, 1000), fetchOnly: true, help: 'reconnections to the syslog receiver after a failure before giving up (exit 9)' }),
  syslogRetryDelayMs: opt({ flag: 'syslog-retry-delay', env: 'Y360_SYSLOG_RETRY_DELAY', default: '1s', parse: duration(), fetchOnly: true, help: 'first reconnection delay; doubles each attempt, at most 30s' }),
  // Seals (issue 16): the manifest beside the day files (README "Sealed days").
  sealSettleMs: opt({ flag: 'seal-settle', env: 'Y360_SEAL_SETTLE', default: '1h', parse: duration(), fetchOnly: true, help: 'a day file is sealed (an entry in <base>.manifest.jsonl: lines, bytes, SHA-256, hash chain) by the first archive run after its end in --timezone plus this; late arrivals later than this are merged and resealed' }),
  noSeal: flag({ flag: 'no-seal', help: 'archive runs seal no new day (days already sealed that a run changes are still reopened and resealed; verify still checks every seal)' }),
  sealKey: opt({ flag: 'seal-key', env: 'Y360_SEAL_KEY', parse: optional(path()), fetchOnly: true, help: 'Ed25519 private key (PEM, openssl genpkey -algorithm ed25519) signing every seal entry; keep its public half away from the archive' }),
  sealPubkey: opt({ flag: 'seal-pubkey', env: 'Y360_SEAL_PUBKEY', parse: optional(path()), help: 'verify: Ed25519 public key (PEM) every seal entry must be signed with (entries older than the first signed one excepted)' }),
  sealHeads: opt({ flag: 'seal-head', env: 'Y360_SEAL_HEAD', parse: sealHeads(SOURCE_NAMES), help: 'verify: chain heads kept outside the archive, source:sha256 comma-separated (from --summary-json, the metrics or the log); each must still be an entry of its manifest' }),
  lineFormat: opt({ flag: 'line-format', env: 'Y360_LINE_FORMAT', default: 'compact', parse: oneOf(['compact', 'seed'] as const), help: 'compact (JSON as the API sent it) or seed (the Python script\'s json.dumps spacing)' }),
  timezone: opt({ flag: 'timezone', env: 'Y360_TIMEZONE', default: 'UTC', parse: zone(), help: 'IANA zone whose local day names the files' }),
  watch: flag({ flag: 'watch', help: 'run again every --interval until SIGINT/SIGTERM (one log line per cycle; exit 130/143)' }),
  intervalMs: opt({ flag: 'interval', env: 'Y360_INTERVAL', default: '15m', parse: duration(), help: 'pause between runs with --watch' }),
  summaryJson: opt({ flag: 'summary-json', env: 'Y360_SUMMARY_JSON', parse: optional(fileOrStdout()), help: 'write the run summary per source as JSON to this file (atomically, after every run or cycle); - for stdout' }),
  metricsFile: opt({ flag: 'metrics-file', env: 'Y360_METRICS_FILE', parse: optional(fileOrStdout()), help: 'write a Prometheus textfile for node_exporter (counters carried across runs, last-run gauges, lag of the newest record, build info; atomically); - for stdout' }),
  logFile: opt({ flag: 'log-file', env: 'Y360_LOG_FILE', default: 'get_audit_logs.log', parse: optional(path()), help: 'debug log file, rotated at 1 MB keeping 5 (<file>.1 … <file>.5, as the Python script)' }),
  noLogFile: flag({ flag: 'no-log-file', help: 'no debug log file' }),
  logLevel: opt({ flag: 'log-level', env: 'Y360_LOG_LEVEL', default: 'info', parse: oneOf(['debug', 'info', 'warn', 'error'] as const), help: 'stderr log level: debug, info, warn, error' }),
  quiet: flag({ flag: 'quiet', help: 'warnings and errors only on stderr, no progress line' }),
  json: flag({ flag: 'json', help: 'verify, reconcile: print the report as one JSON document on stdout' }),
  dryRun: flag({ flag: 'dry-run', help: 'reconcile: report what the archive lacks and holds beyond the API, change nothing on disk' }),
  noRecheck: flag({ flag: 'no-recheck', help: 'do not ask the API again for a day before sealing it (the re-check costs one more day of requests per sealed day and merges late arrivals)' }),
  help: flag({ flag: 'help', short: 'h', help: 'show this help' }),
  version: flag({ flag: 'version', short: 'V', help: 'show the version' }),
}

/** The filter rows by their Filters name (each endpoint says which it supports). */
export const FILTER_OPTIONS = { types: OPTION.types, includeUids: OPTION.includeUids, excludeUids: OPTION.excludeUids, ip: OPTION.ip, service: OPTION.service } satisfies Record<FilterName, OptionSpec>

/** Every option in --help order: the per-source directory rows after the identity, their base names after --ext. */
export const OPTIONS: readonly OptionSpec[] = (() => {
  const { token, tokenFile, org, ext, ...rest } = OPTION
  const per = SOURCE_NAMES.map((n) => SOURCE_OPTIONS[n])
  return Object.freeze([token, tokenFile, org, ...per.map((s) => s.dir), ext, ...per.map((s) => s.base), ...Object.values(rest)] as OptionSpec[])
})()

/** `--help` text: one line per option with its variable and default. */
export function helpText(version: string): string {
  const rows = OPTIONS.map((o) => {
    const name = o.kind === 'boolean' ? `--${o.flag}` : `--${o.flag} <v>`
    const extra = [o.short ? `or -${o.short}` : '', o.env ? `env ${o.env}` : '', o.default !== undefined ? `default ${o.default}` : ''].filter(Boolean).join(', ')
    return `  ${name.padEnd(24)} ${o.help}${extra ? ` [${extra}]` : ''}`
  })
  return [
    `y360-audit ${version}: Yandex 360 audit logs (mail, disk, unified events) into date-partitioned JSON-lines files`,
    '',
    'Usage:',
    '  y360-audit [fetch] [options]     fetch new records into the archive (the default command)',
    '  y360-audit --config FILE         fetch every organisation of a config file (also with verify, --watch)',
    '  y360-audit verify [options]      check an archive without the network',
    '  y360-audit reconcile --since X [--until Y] [--dry-run] [--json]',
    '                                   ask the API for a range again and merge what the archive lacks',
    '  y360-audit demo [--dir D]        run the whole job against the bundled emulator',
    '  y360-audit emulator [options]    start the bundled API emulator',
    '  y360-audit help [command]        help of a command; options go before or after the command',
    '',
    'Durations take a unit: 500ms, 30s, 15m, 12h, 90d, 1w.',
    '',
    'Options (flags win over the environment, which wins over ./.env):',
    ...rows,
    '',
    'Exit codes: 0 ok (also "nothing new"), 1 bad configuration, 3 the API refused (token, scope, org, audit log off),',
    '4 the API kept failing, 5 the archive could not be written, 6 another run holds the lock, 7 verify found damage,',
    '8 the run completed but saw anomalies (summary "anomalies"), 9 the syslog receiver could not be reached (or its',
    'certificate was refused), 10 reconcile found records the archive lacked (merged in, or not with --dry-run),',
    '75 rate limited beyond --max-wait (try later), 130/143 stopped by SIGINT/SIGTERM, 70 internal error.',
    `With --config: the most severe of the organisations' codes, in this order: ${EXIT_SEVERITY.join(' > ')}; the summary has each one's.`,
  ].join('\n')
}

/** The README's options table (markdown), one row per option; a test keeps the README equal to it. */
export function readmeTable(): string {
  const code = (s: string | undefined): string => (s === undefined ? '' : `\`${s}\``)
  const rows = OPTIONS.map((o) => `| ${code(o.kind === 'boolean' ? `--${o.flag}` : `--${o.flag} <v>`)} | ${code(o.env)} | ${code(o.default)} | ${o.help.replace(/\|/g, '\\|')} |`)
  return ['| flag | variable | default | meaning |', '|---|---|---|---|', ...rows].join('\n')
}
