// --stdout: NDJSON only on stdout, equal to the ground truth; --state-file makes runs incremental; a reader that
// leaves early (| head -3) ends the run quietly with exit 0 and the cursor is not advanced. In-process (runMain) except
// the reader that leaves, which needs a real pipe (EPIPE).
import t from 'tap'
import { spawn } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import stableStringify from 'fast-json-stable-stringify'
import { CLI, cliEnv, emulator, runMain, summaryOf, bare } from '../helpers.js'
import type { SummaryDocument } from '../../src/summary.js'
import { ENDPOINTS } from '../../src/sources/index.js'

/** Canonical multiset of records (content identity, as the tool dedupes). */
const canon = (recs: object[]): string[] => recs.map((r) => stableStringify(r)).sort()

function parseLines(stdout: string): Record<string, unknown>[] {
  if (stdout !== '' && !stdout.endsWith('\n')) throw new Error('stdout does not end with a newline')
  return stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>)
}

function split(recs: Record<string, unknown>[]): Record<string, Record<string, unknown>[]> {
  const by: Record<string, Record<string, unknown>[]> = {}
  for (const r of recs) {
    const { _source, ...rest } = r
    ;(by[String(_source)] ??= []).push(rest)
  }
  return by
}

t.test('two sources to stdout with --tag-source equal the truth; the state file makes the next run print only new records', async (t) => {
  const emu = await emulator(t, { counts: { mail: 800, disk: 300 }, days: 3, seed: 11 })
  const dir = t.testdir()
  const state = join(dir, 'cursor.json')
  const env = cliEnv(emu)
  const args = ['--stdout', '--sources', 'mail,disk', '--tag-source', '--state-file', state, '--lookback', '4d']

  const first = await runMain(args, { env, cwd: dir, summary: true })
  t.equal(first.code, 0, 'exit 0')
  const out = split(parseLines(first.stdout))
  t.same(Object.keys(out).sort(), ['disk', 'mail'], 'every line carries _source')
  t.same(canon(out.mail), canon(emu.truth('mail')), 'mail lines equal the truth')
  t.same(canon(out.disk), canon(emu.truth('disk')), 'disk lines equal the truth')
  t.equal(out.mail.length, 800)
  t.equal(out.disk.length, 300)
  for (const src of ['mail', 'disk'] as const) {
    const us = out[src].map((r) => ENDPOINTS[src].timestamp(r) as number)
    t.ok(us.every((u, i) => i === 0 || u >= us[i - 1]), `${src} lines ascend`)
  }
  t.match(summaryOf(first, 'mail'), { ok: true, mode: 'stdout', written: 800, files: [] })
  t.match(summaryOf(first, 'disk'), { ok: true, mode: 'stdout', written: 300, files: [] })
  t.equal(statSync(state).mode & 0o777, 0o600, 'the cursor file is private (it holds record keys)')
  const cursor = JSON.parse(readFileSync(state, 'utf8')) as { version: number; sources: Record<string, { resumeUs: number; keys: unknown[] }> }
  t.equal(cursor.version, 1)
  t.equal(cursor.sources.mail.resumeUs, Math.max(...out.mail.map((r) => ENDPOINTS.mail.timestamp(r) as number)), 'mail cursor = newest delivered instant')
  t.ok(cursor.sources.mail.keys.length >= 1, 'overlap keys kept')
  t.same(readdirSync(dir).filter((n) => n.includes('.tmp')), [], 'no temp file left behind')

  const newMail = emu.inject('mail', 7)
  const newDisk = emu.inject('disk', 3)
  const second = await runMain(args, { env, cwd: dir })
  t.equal(second.code, 0)
  const out2 = split(parseLines(second.stdout))
  t.same(canon(out2.mail), canon(newMail), 'second run prints exactly the new mail records')
  t.same(canon(out2.disk), canon(newDisk), 'and the new disk records')

  const third = await runMain(args, { env, cwd: dir })
  t.equal(third.code, 0, 'nothing new is success')
  t.equal(third.stdout, '', 'nothing printed')

  // An explicit range with the same state file replays all of it (the cursor's keys do not thin it out) and the
  // cursor stays at the newest delivered record.
  const before = readFileSync(state, 'utf8')
  const replay = await runMain(['--stdout', '--sources', 'mail', '--state-file', state, '--since', '-4d'], { env, cwd: dir })
  t.equal(replay.code, 0)
  t.same(canon(parseLines(replay.stdout)), canon(emu.truth('mail')), 'a --since replay delivers the whole range')
  t.equal((JSON.parse(readFileSync(state, 'utf8')) as { sources: Record<string, { resumeUs: number }> }).sources.mail.resumeUs, (JSON.parse(before) as { sources: Record<string, { resumeUs: number }> }).sources.mail.resumeUs, 'cursor not moved back')

  // Without --tag-source, each line is the record exactly as received (no extra field).
  const plain = await runMain(['--stdout', '--sources', 'disk', '--lookback', '4d'], { env, cwd: dir })
  t.equal(plain.code, 0)
  t.same(canon(parseLines(plain.stdout)), canon(emu.truth('disk')), 'untagged stdout = the truth')
})


t.test('| head -3: the reader leaves, the run ends with exit 0 without fetching the rest, the cursor stays, the next run delivers everything', async (t) => {
  const emu = await emulator(t, { counts: { mail: 3000 }, days: 5, seed: 12 })
  const dir = t.testdir()
  const state = join(dir, 'cursor.json')
  const env = cliEnv(emu)
  const args = ['--stdout', '--sources', 'mail', '--state-file', state, '--lookback', '6d']
  // One window at a time of at most 2 pages: what is fetched ahead of a blocked stdout stays small.
  const narrow = ['--concurrency', '1', '--max-pages', '2']

  const child = spawn(...bare(process.execPath, [CLI, ...args, ...narrow, '--summary-json', join(dir, 's.json')], env), { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))
  // The reader: takes 3 lines, then closes its end of the pipe (what head -3 does).
  const lines = await new Promise<string[]>((resolve) => {
    let buf = ''
    const onData = (d: Buffer): void => {
      buf += d.toString('utf8')
      const ls = buf.split('\n')
      if (ls.length > 3) {
        child.stdout.off('data', onData)
        child.stdout.destroy()
        resolve(ls.slice(0, 3))
      }
    }
    child.stdout.on('data', onData)
  })
  const end = await exited
  t.equal(lines.length, 3)
  for (const l of lines) t.ok(JSON.parse(l), 'a complete JSON line')
  t.equal(end.signal, null, 'not killed by SIGPIPE')
  t.equal(end.code, 0, 'exit 0: the reader had what it wanted')
  // The run stops at the reader's leaving instead of paging through the rest: the emulator served far fewer pages
  // than all records need (backpressure bounds what is fetched ahead).
  const pagesForAll = Math.ceil(3000 / 100)
  t.ok(emu.stats().pagesServed < pagesForAll / 2, `${emu.stats().pagesServed} pages served, ${pagesForAll} would hold everything`)
  const doc = JSON.parse(readFileSync(join(dir, 's.json'), 'utf8')) as SummaryDocument
  t.match(doc, { ok: true, exitCode: 0 })
  t.match(doc.sources[0], { source: 'mail', mode: 'stdout', ok: true, code: 'OUTPUT_CLOSED' }, 'a quiet end: the output closed')
  t.ok(doc.sources[0].written < 3000, `only what the pipe took was written (${doc.sources[0].written})`)
  t.notMatch(stderr, /"level":"error"|FAILED|EPIPE/, 'no error reported')
  t.match(stderr, /stdout was closed by the reader/)
  t.notOk(existsSync(state), 'the cursor was not written')

  const again = await runMain(args, { env, cwd: dir })
  t.equal(again.code, 0)
  const recs = parseLines(again.stdout)
  t.equal(recs.length, 3000, 'the next run delivers everything')
  t.same(canon(recs), canon(emu.truth('mail')))
  t.ok(existsSync(state), 'and then saves the cursor')
})

t.test('a damaged state file stops the run with exit 1 and a clear message (never a silent restart)', async (t) => {
  const emu = await emulator(t, { counts: { mail: 10 }, days: 1 })
  const dir = t.testdir({ 'cursor.json': '{"version": 1, "sources": ' })
  const r = await runMain(['--stdout', '--sources', 'mail', '--state-file', join(dir, 'cursor.json')], { env: cliEnv(emu), cwd: dir })
  t.equal(r.code, 1)
  t.equal(r.stdout, '')
  t.match(r.stderr, /state file .*cursor\.json is not a y360-audit cursor \(not JSON\)/)
})
