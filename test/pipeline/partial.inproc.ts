// Summary counts are true when a source fails part-way (issue 12: "a 401 in mid-run leaves a summary saying 'wrote 0,
// no file touched' with 148 lines on disk"). The token is revoked after N requests (emulator switch revokeTokenAfter):
// windows already fetched still reach the output, and each source's whole summary must describe exactly what is in
// the archive, on stdout, or at the syslog receiver: written, files, first/last, pages (one per request the API saw).
// The bug: pipeline() settled on the source's error while the sink was still writing a window it had taken, so the
// summary was taken before the sink counted it (and the file was left unsynced, its handle open).
import t, { type Test } from 'tap'
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs'
import { createServer, type Socket } from 'node:net'
import { join } from 'node:path'
import type { Emulator } from '../../src/emulator/index.js'
import { EXIT_CODES } from '../../src/errors.js'
import type { SourceSummary } from '../../src/pipeline/outcome.js'
import type { SourceName } from '../../src/sources/descriptor.js'
import { ENDPOINTS } from '../../src/sources/index.js'
import { show } from '../../src/time.js'
import { cliEnv, emulator, runMain, summaryOf } from '../helpers.js'

const NOW = Date.UTC(2026, 5, 10, 12, 0, 0)
const SOURCES = ['mail', 'events'] as const
const BASES: Record<SourceName, string> = { mail: 'mail_audit', disk: 'disk_audit', events: 'y360_audit' }
const DIRS: Record<SourceName, string> = { mail: 'MAIL_LOG_CATALOG_LOCATION', disk: 'DISK_LOG_CATALOG_LOCATION', events: 'NEW_LOG_CATALOG_LOCATION' }
const ARGS = ['--lookback', '3d', '--max-pages', '3', '--concurrency', '1', '--retries', '0']

/** What a summary must say, given the lines the output holds for the source (in the order written). */
function expected(src: SourceName, lines: string[], files: string[], requests: number, mode: SourceSummary['mode']): Partial<SourceSummary> {
  const us = lines.map((l) => ENDPOINTS[src].timestamp(JSON.parse(l) as Record<string, unknown>) as number)
  return {
    source: src, ok: false, code: 'AUTH_FAILED', mode, pages: requests, written: lines.length, files, rejected: 0, retries: 0,
    ...(us.length > 0 ? { first: show(us[0]), last: show(us[us.length - 1]) } : {}),
  }
}

/** The summary's fields that `expected` describes. */
function pick(s: SourceSummary): Partial<SourceSummary> {
  const { source, ok, code, mode, pages, written, files, rejected, retries, first, last } = s
  return { source, ok, code, mode, pages, written, files, rejected, retries, ...(first === undefined ? {} : { first, last }) }
}

async function setup(t: Test): Promise<{ emu: Emulator; dir: string }> {
  // 20 requests in all (the whole range takes about 30), shared by both sources: each fetches a few windows, then meets
  // the 401 with windows unwritten (17 to 20 give the same split here: the margin absorbs how the two interleave).
  const emu = await emulator(t, { counts: { mail: 900, events: 1800 }, days: 2, seed: 7, clock: () => NOW, end: NOW - 60_000, switches: { revokeTokenAfter: 20 } })
  const dir = t.testdir()
  mkdirSync(dir, { recursive: true }) // the summary's directory (no archive creates it in stream modes)
  return { emu, dir }
}

/**
 * Checks the failure came part-way: each source was asked for pages before the 401, none wrote all of its range, and
 * one at least wrote part of it. (How the 20 requests split between the two sources running at once depends on the
 * machine's timing: on a busy one, a source may meet the 401 before its first window is complete. Its summary must
 * still equal what is in the output: nothing, and no file left behind.)
 */
function partWay(t: Test, emu: Emulator, written: (s: SourceName) => number): void {
  for (const s of SOURCES) t.ok(emu.stats().bySource[s] > 0 && written(s) < emu.truth(s).length, `${s}: ${written(s)} of ${emu.truth(s).length} records reached the output before the 401, in ${emu.stats().bySource[s]} requests`)
  t.ok(SOURCES.some((s) => written(s) > 0), `some records reached the output before the 401 (${SOURCES.map((s) => `${s} ${written(s)}`).join(', ')})`)
}

t.test('archive: a 401 in mid-run; each summary equals what is on disk', async (t) => {
  const { emu, dir } = await setup(t)
  const env = cliEnv(emu, Object.fromEntries(SOURCES.map((s) => [DIRS[s], join(dir, s)])))
  const r = await runMain(ARGS, { env, cwd: dir, now: () => NOW, summary: true })
  t.equal(r.code, EXIT_CODES.AUTH_FAILED, r.code === EXIT_CODES.AUTH_FAILED ? 'exit 3 (AUTH_FAILED)' : r.stderr)
  const onDisk = (s: SourceName): { files: string[]; lines: string[] } => {
    const files = readdirSync(join(dir, s)).filter((f) => f.startsWith(`${BASES[s]}_`) && f.endsWith('.json')).sort().map((f) => join(dir, s, f))
    return { files, lines: files.flatMap((f) => readFileSync(f, 'utf8').split('\n').slice(0, -1)) }
  }
  for (const s of SOURCES) {
    const disk = onDisk(s)
    t.same(pick(summaryOf(r, s)), expected(s, disk.lines, disk.files, emu.stats().bySource[s], 'append'), `${s}: the summary tells what is on disk`)
  }
  partWay(t, emu, (s) => onDisk(s).lines.length)
  t.notOk(existsSync(join(dir, 'mail', 'mail_audit.rejected')), 'nothing rejected')
  // The human line says the same.
  for (const s of SOURCES) t.match(r.stderr, new RegExp(`${s}: FAILED \\(AUTH_FAILED\\), fetched \\d+ in ${emu.stats().bySource[s]} pages, wrote ${onDisk(s).lines.length},.*; ${onDisk(s).files.length} file\\(s\\) touched`))
})

t.test('stdout: a 401 in mid-run; each summary equals what stdout received', async (t) => {
  const { emu, dir } = await setup(t)
  const r = await runMain([...ARGS, '--stdout', '--sources', 'mail,events'], { env: cliEnv(emu), cwd: dir, now: () => NOW, summary: true })
  t.equal(r.code, EXIT_CODES.AUTH_FAILED, r.code === EXIT_CODES.AUTH_FAILED ? 'exit 3 (AUTH_FAILED)' : r.stderr)
  const lines = r.stdout.split('\n').slice(0, -1)
  const of = (s: SourceName): string[] => lines.filter((l) => (s === 'events') === l.includes('"occurred_at"'))
  for (const s of SOURCES) t.same(pick(summaryOf(r, s)), expected(s, of(s), [], emu.stats().bySource[s], 'stdout'), `${s}: the summary tells what stdout got`)
  partWay(t, emu, (s) => of(s).length)
})

t.test('syslog: a 401 in mid-run; each summary equals what the receiver got', async (t) => {
  const { emu, dir } = await setup(t)
  // A receiver that reads everything and closes when the sender does (the clean close that acknowledges).
  const got: Buffer[] = []
  const conns = new Set<Socket>()
  const server = createServer((sock) => {
    conns.add(sock)
    sock.on('data', (d: Buffer) => got.push(d))
    sock.on('end', () => sock.end())
    sock.on('close', () => conns.delete(sock))
  })
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res))
  t.teardown(() => new Promise<void>((res) => {
    for (const c of conns) c.destroy()
    server.close(() => res())
  }))
  const port = (server.address() as { port: number }).port
  const r = await runMain([...ARGS, '--syslog', `tcp://127.0.0.1:${port}`, '--sources', 'mail,events', '--syslog-ack-every', '1'], { env: cliEnv(emu), cwd: dir, now: () => NOW, summary: true })
  t.equal(r.code, EXIT_CODES.AUTH_FAILED, r.code === EXIT_CODES.AUTH_FAILED ? 'exit 3 (AUTH_FAILED)' : r.stderr)
  // Octet-counted frames: "<len> <PRI>1 TS HOST APP - MSGID [SD] MSG"; MSGID is the source, MSG the record.
  const bytes = Buffer.concat(got)
  const frames: { src: string; msg: string }[] = []
  for (let at = 0; at < bytes.length;) {
    const sp = bytes.indexOf(0x20, at)
    const len = Number(bytes.subarray(at, sp).toString('latin1'))
    const body = bytes.subarray(sp + 1, sp + 1 + len).toString('utf8')
    const m = /^<\d+>1 \S+ \S+ \S+ - (\S+) \[(?:[^\]\\]|\\.)*\] (.*)$/s.exec(body)
    if (m === null) throw new Error(`not a frame: ${body.slice(0, 200)}`)
    frames.push({ src: m[1], msg: m[2] })
    at = sp + 1 + len
  }
  const of = (s: SourceName): string[] => frames.filter((f) => f.src === s).map((f) => f.msg)
  for (const s of SOURCES) t.same(pick(summaryOf(r, s)), expected(s, of(s), [], emu.stats().bySource[s], 'syslog'), `${s}: the summary tells what the receiver got`)
  partWay(t, emu, (s) => of(s).length)
})
