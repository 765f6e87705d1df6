/**
 * Several organisations in one process (--config): each organisation is its own run() (its archives, locks,
 * checkpoints, marks, client and token), at most --org-concurrency at once, all sharing one per-host request pacing
 * (Limiters), so a host's rate limit and --max-rps hold for every organisation together. One organisation failing
 * (a refused token, a lock held, a full disk) is its own outcome; the others run on.
 */
import type { Dispatcher } from 'undici'
import type { Config, OrgPlan, Plan } from './config.js'
import { Y360Error, exitCodeOf, worstExit } from './errors.js'
import type { Logger } from './log.js'
import { SourceStats } from './messages.js'
import { summarize, type RunSummary } from './pipeline/outcome.js'
import { outputMode, run, type ProgressUpdate } from './pipeline/run.js'
import { Limiters, type Timer } from './sources/limiter.js'
import { mapLimited } from './limited.js'

/** One organisation's run. */
export interface OrgResult {
  readonly org: OrgPlan
  readonly summary: RunSummary
}

export interface OrgsContext {
  plan: Plan
  log: Logger
  now: () => number
  signal: AbortSignal
  /** The per-host pacing every organisation shares (default: one for this call, with the plan's --max-rps). */
  limiters?: Limiters
  dispatcher?: Dispatcher
  /** The clock retries, pauses and the rate limiter wait on (default the real one). */
  timer?: Timer
  /** The tool and its version, written into each seal entry. */
  tool?: string
  onProgress?: (org: OrgPlan, source: string, p: ProgressUpdate) => void
  /** Called as each organisation ends, with its logger (its lines start with its name). */
  onDone?: (r: OrgResult, log: Logger) => void
}

/** The summary of a run that ended before any source started (its output could not open: a lock held, a mark, a directory). */
export function failedRun(cfg: Config, err: unknown): RunSummary {
  const exit = exitCodeOf(err)
  const code = err instanceof Y360Error ? err.code : 'INTERNAL'
  const error = err instanceof Error ? err.message : String(err)
  const mode = outputMode(cfg)
  const sources = cfg.sources.map((s) => summarize(new SourceStats(), { source: s.name, mode, ok: false, code, error, exit, durationMs: 0 }))
  return { ok: false, exitCode: exit, sources }
}

/** One organisation's run, never throwing: a failure to start is its summary. */
async function runOrg(ctx: OrgsContext, org: OrgPlan, limiters: Limiters): Promise<OrgResult> {
  const log = ctx.log.child({ org: org.name }, { msgPrefix: `${org.name}: ` })
  let summary: RunSummary
  if (ctx.signal.aborted) summary = failedRun(org.config, new Y360Error('INTERRUPTED', 'not started: stopped by a signal'))
  else {
    try {
      summary = await run({ cfg: org.config, log, now: ctx.now, signal: ctx.signal, dispatcher: ctx.dispatcher, timer: ctx.timer, tool: ctx.tool, limiters, onProgress: (src, p) => ctx.onProgress?.(org, src, p) })
    } catch (err) {
      log.error({ code: (err as Y360Error).code, err: err instanceof Y360Error ? undefined : err }, (err as Error).message)
      summary = failedRun(org.config, err)
    }
  }
  const r = { org, summary }
  ctx.onDone?.(r, log)
  return r
}

/** Runs every organisation of the plan; returns each one's result, in the file's order. */
export async function runOrgs(ctx: OrgsContext): Promise<OrgResult[]> {
  const limiters = ctx.limiters ?? Limiters.capped(ctx.plan.process.maxRps, ctx.timer)
  return mapLimited(ctx.plan.orgs, ctx.plan.process.orgConcurrency, (org) => runOrg(ctx, org, limiters))
}

/** The exit code of several organisations' runs: the most severe of theirs (EXIT_SEVERITY). */
export function orgsExit(results: readonly OrgResult[]): number {
  return worstExit(results.map((r) => r.summary.exitCode))
}
