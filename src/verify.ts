/**
 * verify: checks archives without the network. Every line parses and has a timestamp, lines ascend within and across
 * files (late arrivals may step back at most --overlap), each record is in the file of its day, no record appears
 * twice, no file ends in a torn line; then the seals (src/archive/manifest.ts): the manifest's hash chain and
 * signatures (--seal-pubkey), every sealed file against its newest entry. Streams each file (works on GBs); exits 7
 * on any problem. Counts every problem, lists the first MAX_REPORTED of each source; --json prints one JSON document.
 */
import type { KeyObject } from 'node:crypto'
import { dayNamer, listArchive, type ArchiveFile, type ArchiveId } from './archive/layout.js'
import { checkSeals, loadSealPublicKey, type SealProblemKind, type SealReport } from './archive/manifest.js'
import { checkZoneMark } from './archive/marks.js'
import { linesForward, MAX_LINE } from './archive/lines.js'
import { openRead } from './atomic.js'
import { loadPlan, type Config, type Plan } from './config.js'
import { OPTION, OPTIONS } from './config/options.js'
import { EXIT_CODES, exitCodeOf } from './errors.js'
import type { Io } from './io.js'
import { canonicalKey, isObject } from './messages.js'
import type { EndpointDescriptor } from './sources/descriptor.js'
import { ENDPOINTS } from './sources/index.js'
import { show, type Micros } from './time.js'

export interface Problem {
  file: string
  /** 1-based; 0 for a problem of the whole file (a seal). */
  line: number
  kind: 'unparseable' | 'no-timestamp' | 'out-of-order' | 'wrong-day' | 'duplicate' | 'torn-tail' | SealProblemKind
  detail: string
}

/** What verify found about a source's seals (the problems are among the report's). */
export type SealSummary = Omit<SealReport, 'problems'>

export interface VerifyReport {
  source: string
  files: number
  records: number
  /** Every problem found, also beyond the listed ones. */
  problemCount: number
  /** Problems found per kind. */
  byKind: Partial<Record<Problem['kind'], number>>
  /** The first MAX_REPORTED problems. */
  problems: Problem[]
  first?: string
  last?: string
  /** The seal chain: present when the source has a manifest. */
  seal?: SealSummary
}

/** Problems listed per source (all are counted). */
export const MAX_REPORTED = 1000

async function endsWithNewline(path: string): Promise<boolean> {
  const fh = await openRead(path)
  try {
    const { size } = await fh.stat()
    if (size === 0) return true
    const b = Buffer.alloc(1)
    await fh.read(b, 0, 1, size - 1)
    return b[0] === 0x0a
  } finally {
    await fh.close()
  }
}

/** Counts a problem by kind; the first MAX_REPORTED are listed. */
function addProblem(report: VerifyReport, p: Problem): void {
  report.problemCount++
  report.byKind[p.kind] = (report.byKind[p.kind] ?? 0) + 1
  if (report.problems.length < MAX_REPORTED) report.problems.push(p)
}

/** Verifies one source's archive; `toleranceUs` is how far a late arrival may step back in time. */
export async function verifyArchive(ep: EndpointDescriptor, files: ArchiveFile[], zone: string, toleranceUs: Micros): Promise<VerifyReport> {
  const report: VerifyReport = { source: ep.name, files: files.length, records: 0, problemCount: 0, byKind: {}, problems: [] }
  const problem = (p: Problem): void => addProblem(report, p)
  const dayOf = dayNamer(zone)
  let newest = -Infinity
  let first: Micros | undefined
  const recent = new Map<string, Micros>() // keys within the tolerance window: the only place a duplicate can hide
  for (const f of files) {
    let lineNo = 0
    for await (const { text: line, n } of linesForward(f.path)) {
      lineNo = n
      if (line === undefined) {
        // A "line" this long is not a record (binary junk, a lost newline over GBs); report, go on with the next file.
        problem({ file: f.path, line: n, kind: 'unparseable', detail: `a line longer than ${MAX_LINE} bytes; the rest of this file was not checked` })
        break
      }
      if (line.trim() === '') continue
      let data: unknown
      try {
        data = JSON.parse(line)
      } catch {
        problem({ file: f.path, line: n, kind: 'unparseable', detail: line.slice(0, 80) })
        continue
      }
      const us = isObject(data) ? ep.timestamp(data) : undefined
      if (us === undefined) {
        problem({ file: f.path, line: n, kind: 'no-timestamp', detail: line.slice(0, 80) })
        continue
      }
      report.records++
      first ??= us
      if (dayOf(us) !== f.day) problem({ file: f.path, line: n, kind: 'wrong-day', detail: `${show(us)} belongs to ${dayOf(us)}` })
      if (us < newest - toleranceUs) problem({ file: f.path, line: n, kind: 'out-of-order', detail: `${show(us)} after ${show(newest)}` })
      const key = canonicalKey(data)
      if (recent.has(key)) problem({ file: f.path, line: n, kind: 'duplicate', detail: `${show(us)} appears twice` })
      recent.set(key, us)
      if (us > newest) {
        newest = us
        if (recent.size > 10_000) for (const [k, t] of recent) if (t < newest - 2 * toleranceUs - 1) recent.delete(k)
      }
    }
    if (!(await endsWithNewline(f.path))) problem({ file: f.path, line: lineNo, kind: 'torn-tail', detail: 'the last line has no newline (an interrupted write)' })
  }

  if (first !== undefined) report.first = show(first)
  if (newest > -Infinity) report.last = show(newest)
  return report
}

/** Adds the seal check of one source to its report: chain, signatures with `publicKey`, each sealed file. */
export async function verifySeals(report: VerifyReport, archive: ArchiveId, ep: EndpointDescriptor, files: ArchiveFile[], publicKey?: KeyObject, keptHead?: string): Promise<void> {
  const { problems, ...seal } = await checkSeals(archive, files, ep.timestamp, publicKey, keptHead)
  for (const p of problems) addProblem(report, p)
  if (seal.entries > 0 || seal.tornBytes > 0 || problems.length > 0) report.seal = seal
}

/** The seal line of verify's text report. */
function sealLine(s: SealSummary, keyed: boolean): string {
  const torn = s.tornBytes > 0 ? `; a torn last fragment of ${s.tornBytes} bytes (an interrupted seal) ignored, moved aside by the next run` : ''
  const signed = keyed ? ', signatures checked' : s.signed ? ', signed (not checked: no --seal-pubkey)' : ''
  const reopened = s.reopened > 0 ? `, ${s.reopened} reopened (a run writing into them was interrupted; checked as open days, the next run reseals them)` : ''
  return `  seals: ${s.manifest}: ${s.entries} entries, head ${s.head ?? '-'}, ${s.sealed} files sealed, ${s.open} open${reopened}${signed}${torn}\n`
}

/** The options verify reads (the rest of the fetch job's are accepted and ignored). */
const VERIFY_ROWS = OPTIONS.filter((o) => /-dir$|-base$/.test(o.flag) || [OPTION.config, OPTION.ext, OPTION.sourceNames, OPTION.timezone, OPTION.overlapMs, OPTION.sealPubkey, OPTION.sealHeads, OPTION.json, OPTION.help].includes(o as never))

/** `y360-audit help verify`. */
export function verifyHelp(version: string): string {
  const rows = VERIFY_ROWS.map((o) => {
    const name = o.kind === 'boolean' ? `--${o.flag}` : `--${o.flag} <v>`
    const extra = [o.short ? `or -${o.short}` : '', o.env ? `env ${o.env}` : '', o.default !== undefined ? `default ${o.default}` : ''].filter(Boolean).join(', ')
    return `  ${name.padEnd(24)} ${o.help}${extra ? ` [${extra}]` : ''}`
  })
  return [
    `y360-audit ${version} verify: check archives without the network`,
    '',
    'Usage:',
    '  y360-audit verify [options]      (the fetch job\'s configuration: same variables, same .env)',
    '',
    'Every line parses and has a timestamp, lines ascend (late arrivals may step back at most --overlap), each record',
    'is in the file of its day in --timezone (the archive\'s zone mark must agree), no record appears twice, no file',
    "ends in a torn line. Then the seals: the manifest's hash chain (and signatures, with --seal-pubkey) and every sealed",
    'day file against its newest entry (a changed byte, a line removed or added, a file removed, renamed or added',
    'among sealed days, a file appended to after its seal). Days without a seal (open days) are checked as above.',
    `Every problem is counted; the first ${MAX_REPORTED} per source are listed.`,
    '',
    'Options:',
    ...rows,
    '',
    'With --config, every organisation of the file (each line led by its name: 123/mail: …).',
    '',
    'Exit codes: 0 no problem (or the reader of stdout left), 1 bad configuration or another zone, 7 problems found.',
  ].join('\n')
}

/** Writes report lines, each once stdout took it: a slow reader holds verify back, one that left stops it at once. */
interface Out {
  write(s: string): Promise<void>
  gone(): boolean
}

function output(io: Io): Out {
  let refused = false // a write failed: the reader left (EPIPE) or stdout broke; main reports nothing for EPIPE
  const gone = (): boolean => refused || (io.readerGone?.() ?? false)
  const write = (s: string): Promise<void> =>
    gone()
      ? Promise.resolve()
      : new Promise((resolve) => {
          io.stdout.write(s, (err) => {
            if (err) refused = true
            resolve()
          })
        })
  return { write, gone }
}

/** Verifies one organisation's sources: a line per source (`label` before its name) and per problem, or the reports for --json. */
async function verifySources(cfg: Config, out: Out, label: string): Promise<VerifyReport[]> {
  const reports: VerifyReport[] = []
  const publicKey = cfg.sealPubkey === undefined ? undefined : loadSealPublicKey(cfg.sealPubkey).key // judged by the config rules
  for (const src of cfg.sources) {
    if (out.gone()) break
    const archive = { dir: src.dir, base: src.base, ext: cfg.ext }
    const files = await listArchive(archive)
    const r = await verifyArchive(ENDPOINTS[src.name], files, cfg.timezone, cfg.overlapMs * 1000)
    await verifySeals(r, archive, ENDPOINTS[src.name], files, publicKey, cfg.sealHeads?.[src.name])
    reports.push(r)
    if (cfg.json) continue
    const listed = r.problemCount > r.problems.length ? ` (the first ${r.problems.length} listed)` : ''
    await out.write(`${label}${src.name}: ${r.files} files, ${r.records} records${r.first ? ` from ${r.first} to ${r.last}` : ''}: ${r.problemCount === 0 ? 'OK' : `${r.problemCount} problem(s)${listed}`}\n`)
    if (r.seal !== undefined) await out.write(sealLine(r.seal, publicKey !== undefined))
    for (const p of r.problems) {
      if (out.gone()) break
      await out.write(`  ${p.file}${p.line > 0 ? `:${p.line}` : ''}: ${p.kind}: ${p.detail}\n`)
    }
  }
  return reports
}

const problemsOf = (reports: readonly VerifyReport[]): number => reports.reduce((n, r) => n + r.problemCount, 0)

/**
 * `y360-audit verify`: the fetch job's configuration (directories, base names, extension, --timezone, --overlap); with
 * --config every organisation of the file, each source's line led by the organisation's name (`123/mail: …`).
 */
export async function verifyMain(argv: string[], io: Io): Promise<number> {
  let plan: Plan
  try {
    plan = loadPlan({ argv, env: io.env, cwd: io.cwd, now: io.now, mode: 'verify' })
  } catch (err) {
    io.stderr.write(`y360-audit verify: ${(err as Error).message}\n`)
    return exitCodeOf(err)
  }
  const multi = plan.file !== undefined
  const zoneProblems = plan.orgs.flatMap((o) => o.config.sources.flatMap((src) => {
    const p = checkZoneMark({ dir: src.dir, base: src.base, ext: o.config.ext }, src.name, o.config.timezone).problem
    return p === undefined ? [] : [multi ? `${o.where}: ${p}` : p]
  }))
  if (zoneProblems.length > 0) {
    io.stderr.write(`y360-audit verify: configuration problems:\n${zoneProblems.map((p) => `  - ${p}`).join('\n')}\n`)
    return EXIT_CODES.CONFIG_INVALID
  }
  const out = output(io)
  const byOrg: { name: string; reports: VerifyReport[] }[] = []
  for (const o of plan.orgs) {
    if (out.gone()) break
    byOrg.push({ name: o.name, reports: await verifySources(o.config, out, multi ? `${o.name}/` : '') })
  }
  const bad = byOrg.reduce((n, o) => n + problemsOf(o.reports), 0)
  if (plan.process.json && !out.gone()) {
    const doc = multi
      ? { version: 1, ok: bad === 0, problemCount: bad, listedPerSource: MAX_REPORTED, orgs: byOrg.map((o) => ({ name: o.name, ok: problemsOf(o.reports) === 0, problemCount: problemsOf(o.reports), sources: o.reports })) }
      : { version: 1, ok: bad === 0, problemCount: bad, listedPerSource: MAX_REPORTED, sources: byOrg[0]?.reports ?? [] }
    await out.write(JSON.stringify(doc) + '\n')
  }
  if (out.gone()) return EXIT_CODES.OK
  return bad === 0 ? EXIT_CODES.OK : EXIT_CODES.ARCHIVE_DAMAGED
}
