/** Every option of the fetch job as data: flag, environment variable, default, help. --help and the README come from here. */

export type OptionKind = 'string' | 'boolean'

export interface OptionSpec {
  flag: string
  env?: string
  kind: OptionKind
  /** Shown in --help; the value used when nothing else is given (undefined = unset). */
  default?: string
  help: string
  /** Accepted more than once (values accumulate). */
  multiple?: boolean
}

export const OPTIONS: readonly OptionSpec[] = [
  { flag: 'token', env: 'OAUTH_TOKEN_ARG', kind: 'string', help: 'OAuth token with the audit-log scopes (required)' },
  { flag: 'org', env: 'ORGANIZATION_ID_ARG', kind: 'string', help: 'organisation id, an integer (required)' },
  { flag: 'mail-dir', env: 'MAIL_LOG_CATALOG_LOCATION', kind: 'string', help: 'directory of the mail archive; the mail source runs when set' },
  { flag: 'disk-dir', env: 'DISK_LOG_CATALOG_LOCATION', kind: 'string', help: 'directory of the disk archive; the disk source runs when set' },
  { flag: 'events-dir', env: 'NEW_LOG_CATALOG_LOCATION', kind: 'string', help: 'directory of the unified-log archive; the events source runs when set' },
  { flag: 'ext', env: 'LOG_FILE_EXTENSION', kind: 'string', default: 'json', help: 'extension of the archive files' },
  { flag: 'mail-base', env: 'MAIL_LOG_FILE_BASE_NAME', kind: 'string', default: 'mail_audit', help: 'base name of mail files: <base>_<YYYY-MM-DD>.<ext>' },
  { flag: 'disk-base', env: 'DISK_LOG_FILE_BASE_NAME', kind: 'string', default: 'disk_audit', help: 'base name of disk files' },
  { flag: 'events-base', env: 'NEW_LOG_FILE_BASE_NAME', kind: 'string', default: 'y360_audit', help: 'base name of unified-log files' },
  { flag: 'sources', env: 'Y360_SOURCES', kind: 'string', help: 'comma list narrowing the sources to run (mail,disk,events); default: every source whose directory is set' },
  { flag: 'api-url', env: 'Y360_API_URL', kind: 'string', default: 'https://api360.yandex.net', help: 'base URL of the mail/disk API (http: only for loopback)' },
  { flag: 'cloud-api-url', env: 'Y360_CLOUD_API_URL', kind: 'string', default: 'https://cloud-api.yandex.net', help: 'base URL of the unified-log API (http: only for loopback)' },
  { flag: 'overlap', env: 'Y360_OVERLAP', kind: 'string', default: '2m', help: 'how far before the newest archived record each run asks again (late arrivals); duplicates are dropped' },
  { flag: 'lookback', env: 'Y360_LOOKBACK', kind: 'string', default: '90d', help: 'first run (empty archive): how much history to fetch' },
  { flag: 'since', env: 'Y360_SINCE', kind: 'string', help: 'backfill from here, inclusive: ISO instant or date (midnight in --timezone), -7d, -12h, today, yesterday; affected day files are merged (temp file + rename), no duplicates (default: resume point, or now - lookback)' },
  { flag: 'until', env: 'Y360_UNTIL', kind: 'string', help: 'end of the range, exclusive (same forms as --since; default: now); not with --watch' },
  { flag: 'types', env: 'Y360_TYPES', kind: 'string', help: 'only these event types, comma-separated (mail, events)' },
  { flag: 'include-uids', env: 'Y360_INCLUDE_UIDS', kind: 'string', help: 'only these user UIDs, comma-separated' },
  { flag: 'exclude-uids', env: 'Y360_EXCLUDE_UIDS', kind: 'string', help: 'all but these user UIDs, comma-separated' },
  { flag: 'ip', env: 'Y360_IP', kind: 'string', help: 'only events from this IP (events only)' },
  { flag: 'service', env: 'Y360_SERVICE', kind: 'string', help: 'only events of this service: Web, Desktop, Mobile, Api, Synchronization, ID, Internal, Unknown (events only)' },
  { flag: 'concurrency', env: 'Y360_CONCURRENCY', kind: 'string', default: '8', help: 'time windows fetched at once per source (written strictly in time order)' },
  { flag: 'max-rps', env: 'Y360_MAX_RPS', kind: 'string', default: '0', help: 'requests per second per API host, shared by all sources (0 = unlimited)' },
  { flag: 'max-wait', env: 'Y360_MAX_WAIT', kind: 'string', default: '5m', help: 'longest total wait a 429 Retry-After may impose on a request; beyond it the run stops with exit 75' },
  { flag: 'retries', env: 'Y360_RETRIES', kind: 'string', default: '6', help: 'retries of a failing request (5xx, resets, timeouts, invalid JSON)' },
  { flag: 'retry-delay', env: 'Y360_RETRY_DELAY', kind: 'string', default: '1s', help: 'first retry delay; doubles each retry (with jitter), at most 30s' },
  { flag: 'timeout', env: 'Y360_TIMEOUT', kind: 'string', default: '60s', help: 'timeout for response headers and for body inactivity' },
  { flag: 'max-pages', env: 'Y360_MAX_PAGES', kind: 'string', default: '10', help: 'pages per time window before the window is split in two' },
  { flag: 'state-file', env: 'Y360_STATE_FILE', kind: 'string', help: 'with --stdout: JSON cursor (resume instant + overlap keys per source) making runs incremental; saved atomically (0600) at the end of a run and covering only what stdout accepted; left as it was when the reader goes away or on a signal (those records come again)' },
  { flag: 'stdout', kind: 'boolean', help: 'write NDJSON records to stdout instead of the archive (stdout carries records only; logs stay on stderr); a reader that leaves (| head) ends the run with exit 0' },
  { flag: 'tag-source', kind: 'boolean', help: 'with --stdout: add "_source":"<name>" to each record' },
  { flag: 'line-format', env: 'Y360_LINE_FORMAT', kind: 'string', default: 'compact', help: 'compact (JSON as the API sent it) or seed (the Python script\'s json.dumps spacing)' },
  { flag: 'timezone', env: 'Y360_TIMEZONE', kind: 'string', default: 'UTC', help: 'IANA zone whose local day names the files' },
  { flag: 'watch', kind: 'boolean', help: 'run again every --interval until SIGINT/SIGTERM (one log line per cycle; exit 130/143)' },
  { flag: 'interval', env: 'Y360_INTERVAL', kind: 'string', default: '15m', help: 'pause between runs with --watch' },
  { flag: 'summary-json', env: 'Y360_SUMMARY_JSON', kind: 'string', help: 'write the run summary per source as JSON to this file (atomically, after every run or cycle)' },
  { flag: 'metrics-file', env: 'Y360_METRICS_FILE', kind: 'string', help: 'write a Prometheus textfile for node_exporter (up, last success time, records written, lag of the newest record, per source; atomically)' },
  { flag: 'log-file', env: 'Y360_LOG_FILE', kind: 'string', default: 'get_audit_logs.log', help: 'debug log file, rotated at 1 MB keeping 5 (<file>.1 … <file>.5, as the Python script)' },
  { flag: 'no-log-file', kind: 'boolean', help: 'no debug log file' },
  { flag: 'log-level', env: 'Y360_LOG_LEVEL', kind: 'string', default: 'info', help: 'stderr log level: debug, info, warn, error' },
  { flag: 'quiet', kind: 'boolean', help: 'warnings and errors only on stderr, no progress line' },
  { flag: 'help', kind: 'boolean', help: 'show this help' },
  { flag: 'version', kind: 'boolean', help: 'show the version' },
]

/** `--help` text: one line per option with its variable and default. */
export function helpText(version: string): string {
  const rows = OPTIONS.map((o) => {
    const name = o.kind === 'boolean' ? `--${o.flag}` : `--${o.flag} <v>`
    const extra = [o.env ? `env ${o.env}` : '', o.default !== undefined ? `default ${o.default}` : ''].filter(Boolean).join(', ')
    return `  ${name.padEnd(24)} ${o.help}${extra ? ` [${extra}]` : ''}`
  })
  return [
    `y360-audit ${version}: Yandex 360 audit logs (mail, disk, unified events) into date-partitioned JSON-lines files`,
    '',
    'Usage:',
    '  y360-audit [fetch] [options]     fetch new records into the archive (the default command)',
    '  y360-audit verify [options]      check an archive without the network',
    '  y360-audit demo [--dir D]        run the whole job against the bundled emulator',
    '  y360-audit emulator [options]    start the bundled API emulator (see --help there)',
    '',
    'Options (flags win over the environment, which wins over ./.env):',
    ...rows,
    '',
    'Exit codes: 0 ok (also "nothing new"), 1 bad configuration, 3 the API refused (token, scope, org, audit log off),',
    '4 the API kept failing, 5 the archive could not be written, 6 another run holds the lock, 7 verify found damage,',
    '75 rate limited beyond --max-wait (try later), 130/143 stopped by SIGINT/SIGTERM, 70 internal error.',
  ].join('\n')
}
