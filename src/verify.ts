/**
 * verify: checks archives without the network. Every line parses and has a timestamp, lines ascend within and across
 * files (late arrivals may step back at most --overlap), each record is in the file of its day, no record appears
 * twice, no file ends in a torn line. Streams each file (works on GBs); exits 7 on any problem.
 */
import { dayNamer, listArchive, type ArchiveFile } from './archive/layout.js'
import { linesForward, MAX_LINE } from './archive/lines.js'
import { openRead } from './atomic.js'
import { loadConfig, type Config } from './config.js'
import { EXIT_CODES, exitCodeOf } from './errors.js'
import type { Io } from './io.js'
import { canonicalKey, isObject } from './messages.js'
import type { EndpointDescriptor } from './sources/descriptor.js'
import { ENDPOINTS } from './sources/index.js'
import { show, type Micros } from './time.js'

export interface Problem {
  file: string
  line: number
  kind: 'unparseable' | 'no-timestamp' | 'out-of-order' | 'wrong-day' | 'duplicate' | 'torn-tail'
  detail: string
}

export interface VerifyReport {
  source: string
  files: number
  records: number
  problems: Problem[]
  first?: string
  last?: string
}

const MAX_REPORTED = 1000

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

/** Verifies one source's archive; `toleranceUs` is how far a late arrival may step back in time. */
export async function verifyArchive(ep: EndpointDescriptor, files: ArchiveFile[], zone: string, toleranceUs: Micros): Promise<VerifyReport> {
  const report: VerifyReport = { source: ep.name, files: files.length, records: 0, problems: [] }
  const problem = (p: Problem): void => {
    if (report.problems.length < MAX_REPORTED) report.problems.push(p)
  }
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

/** `y360-audit verify`: the fetch job's configuration (directories, base names, extension, --timezone, --overlap). */
export async function verifyMain(argv: string[], io: Io): Promise<number> {
  let cfg: Config
  try {
    cfg = loadConfig({ argv, env: io.env, cwd: io.cwd, now: io.now, mode: 'verify' })
  } catch (err) {
    io.stderr.write(`y360-audit verify: ${(err as Error).message}\n`)
    return exitCodeOf(err)
  }
  let bad = 0
  for (const src of cfg.sources) {
    const files = await listArchive({ dir: src.dir, base: src.base, ext: cfg.ext })
    const r = await verifyArchive(ENDPOINTS[src.name], files, cfg.timezone, cfg.overlapMs * 1000)
    bad += r.problems.length
    io.stdout.write(`${src.name}: ${r.files} files, ${r.records} records${r.first ? ` from ${r.first} to ${r.last}` : ''}: ${r.problems.length === 0 ? 'OK' : `${r.problems.length} problem(s)`}\n`)
    for (const p of r.problems) io.stdout.write(`  ${p.file}:${p.line}: ${p.kind}: ${p.detail}\n`)
  }
  return bad === 0 ? EXIT_CODES.OK : EXIT_CODES.ARCHIVE_DAMAGED
}
