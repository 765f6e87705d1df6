/** The shape of a loaded configuration (re-exported by src/config.ts). */
import type { Facility, Severity } from '../sinks/rfc5424.js'
import type { Filters, SourceName } from '../sources/descriptor.js'
import type { SyslogUrl } from './parse.js'
import type { Micros } from '../time.js'
import type { Mode } from './values.js'

/** One source to run: where its archive is and how its files are named. */
export interface SourceConfig {
  readonly name: SourceName
  /** Archive directory (absolute); '' in --stdout mode without one. */
  readonly dir: string
  readonly base: string
}

/** The validated, frozen configuration of one command; each stage reads its slice. */
export interface Config {
  readonly token: string
  /** Where the token came from (`OAUTH_TOKEN_ARG / --token`, `the token file <path>`): named when the API refuses it. */
  readonly tokenFrom: string
  readonly org: number
  readonly apiUrl: string
  readonly cloudApiUrl: string
  readonly sources: readonly SourceConfig[]
  readonly ext: string
  readonly filters: Readonly<Filters>
  readonly overlapMs: number
  readonly lookbackMs: number
  readonly maxSkewMs: number
  readonly since: Micros | undefined
  readonly until: Micros | undefined
  readonly concurrency: number
  /** --config: the file of several organisations (src/config.ts#readPlan reads it; one organisation's Config keeps its path). */
  readonly config: string | undefined
  /** --config: organisations run at once. */
  readonly orgConcurrency: number
  readonly maxRps: number
  readonly maxWaitMs: number
  readonly retries: number
  readonly retryDelayMs: number
  readonly timeoutMs: number
  /** Longest time one request may take in all (--request-deadline; 3 × timeoutMs when not given). */
  readonly requestDeadlineMs: number
  /** Largest response body read per page (--max-body). */
  readonly maxBodyBytes: number
  /** A lock not refreshed for longer is taken over (--lock-stale). */
  readonly lockStaleMs: number
  readonly maxPages: number
  readonly stdout: boolean
  readonly tagSource: boolean
  readonly stateFile: string | undefined
  readonly lineFormat: 'compact' | 'seed'
  /** --syslog: the receiver; with no archive directory it is the run's output, else a forwarder beside the archive. */
  readonly syslog: SyslogUrl | undefined
  readonly syslogCa: string | undefined
  readonly syslogFacility: Facility
  readonly syslogSeverity: Severity
  readonly syslogAckEvery: number
  readonly syslogRetries: number
  readonly syslogRetryDelayMs: number
  readonly timezone: string
  /** Archive runs seal closed days (not --no-seal). */
  readonly seal: boolean
  /** A day is sealed once its end plus this has passed (--seal-settle). */
  readonly sealSettleMs: number
  /** --seal-key: the Ed25519 private key file signing the entries. */
  readonly sealKey: string | undefined
  /** verify --seal-pubkey: the Ed25519 public key file the entries must be signed with. */
  readonly sealPubkey: string | undefined
  /** verify --seal-head: per source, a chain head kept outside the archive that must still be in its manifest. */
  readonly sealHeads: Readonly<Record<string, string>> | undefined
  readonly watch: boolean
  readonly intervalMs: number
  readonly summaryJson: string | undefined
  readonly metricsFile: string | undefined
  readonly logFile: string | undefined
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error'
  readonly quiet: boolean
  /** verify, reconcile: the report as one JSON document. */
  readonly json: boolean
  /** reconcile: report only, change nothing on disk. */
  readonly dryRun: boolean
  /** No re-check of a day before it is sealed. */
  readonly noRecheck: boolean
  readonly help: boolean
  readonly version: boolean
  /** Non-fatal remarks found while validating (unknown event types, a world-readable .env). */
  readonly warnings: readonly string[]
}

/** What loadConfig reads: argv, the environment, the working directory (for .env and relative paths) and the clock. */
export interface ConfigInput {
  argv: string[]
  env: NodeJS.ProcessEnv
  cwd: string
  now: () => number
  /** verify reads archives only: directories must exist, no token or organisation needed. */
  mode?: Mode
}
